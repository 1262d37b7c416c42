import Foundation

/// Workload 4: N connections held open at once, each echoing a byte now and then.
enum ScaleWorkload {
    struct Outcome {
        var failures = 0
        var openSeconds = 0.0
        var echoMicros = 0.0
        var rss: (server: Int, client: Int) = (0, 0)
    }

    static func run(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let count = context.plan.scaleConnections
        let direct = hold(port: echo.port, count: count, plan: context.plan, stack: nil)
        let stack = try context.stack(target: echo.port, label: "scale")
        defer { stack.stop() }
        Clock.sleep(0.2)
        let before = (server: stack.server.rss, client: stack.client.rss)
        let tunnel = hold(port: stack.port, count: count, plan: context.plan, stack: stack)
        let mib = Double(Plan.mebibyte)
        let perServer = Double(tunnel.rss.server - before.server) / Double(count) / 1024
        let perClient = Double(tunnel.rss.client - before.client) / Double(count) / 1024
        return [
            Row(
                "scale", "\(count) held connections: failures", unit: "count", direct: Double(direct.failures),
                tunnel: Double(tunnel.failures), target: "0"),
            Row("scale", "time to open all \(count)", unit: "s", direct: direct.openSeconds, tunnel: tunnel.openSeconds),
            Row("scale", "echo round over all, per connection", unit: "µs", direct: direct.echoMicros, tunnel: tunnel.echoMicros),
            Row(
                "scale", "server RSS with \(count) open", unit: "MiB", direct: nil, tunnel: Double(tunnel.rss.server) / mib,
                target: "≤ 200 MiB at 8000", note: String(format: "before: %.1f MiB", Double(before.server) / mib)),
            Row(
                "scale", "client RSS with \(count) open", unit: "MiB", direct: nil, tunnel: Double(tunnel.rss.client) / mib,
                note: String(format: "before: %.1f MiB", Double(before.client) / mib)),
            Row("scale", "server memory per connection", unit: "KiB", direct: nil, tunnel: perServer),
            Row("scale", "client memory per connection", unit: "KiB", direct: nil, tunnel: perClient),
        ]
    }

    /// Opens `count` connections one after another (each proven by an echo), runs echo rounds over
    /// all of them, reads the processes' memory, and closes everything. Failures are counted, not thrown.
    private static func hold(port: Int, count: Int, plan: Plan, stack: TunnelStack?) -> Outcome {
        var outcome = Outcome()
        var open: [Socket] = []
        open.reserveCapacity(count)
        defer { for socket in open { socket.close() } }
        let deadline = Clock.seconds() + plan.loopTimeout
        let start = Clock.seconds()
        for _ in 0..<count {
            guard Clock.seconds() < deadline else {
                outcome.failures += 1
                continue
            }
            guard let socket = try? Socket.connect(port: port, timeout: 5) else {
                outcome.failures += 1
                continue
            }
            if echoOnce(socket) {
                open.append(socket)
            } else {
                socket.close()
                outcome.failures += 1
            }
        }
        outcome.openSeconds = Clock.seconds() - start
        let echoStart = Clock.seconds()
        var echoes = 0
        for _ in 0..<plan.scaleEchoRounds where Clock.seconds() < deadline {
            for socket in open {
                if !echoOnce(socket) { outcome.failures += 1 }
                echoes += 1
            }
        }
        outcome.echoMicros = echoes > 0 ? (Clock.seconds() - echoStart) * 1e6 / Double(echoes) : 0
        if let stack { outcome.rss = (stack.server.rss, stack.client.rss) }
        return outcome
    }

    private static func echoOnce(_ socket: Socket) -> Bool {
        do {
            try socket.sendByte(0x65)
            return try socket.receiveByte() == 0x65
        } catch {
            return false
        }
    }
}
