import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `failover` (issue 26). Two `purr-server`s, A and B, both routing to the echo target; two clients in
/// their own processes: `purr connect A` and `purr connect A B` (failover: A first). Connect p50 of the
/// two, alternated sample by sample: what a healthy first server costs a tunnel that lists two (goal
/// ≤ 1.05×). Then what the app sees when A goes away, through the two-server tunnel, connecting in a
/// loop: from `kill -9` of A to the first echo through B, and from A's drain (SIGTERM while one relay of
/// A's is still live, so it answers 503) to the first echo through B; each with the connects that
/// failed on the way.
enum FailoverWorkload {
    static func run(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let plan = context.plan
        let stack = try FailoverStack(binDir: context.binDir, echo: echo.port, logLevel: plan.tunnelLogLevel)
        defer { stack.stop() }
        let samples = try LatencyWorkloads.alternating([stack.oneServerPort, stack.twoServersPort], plan: plan, label: "failover")
        let (one, two) = (samples[0], samples[1])
        let single = Percentiles(nanos: one)
        let listed = Percentiles(nanos: two)
        let label = "\(plan.connectCount)× connect, 1 B echo, close"
        var rows = [
            Row(
                "failover", "\(label) p50: one server → two (first healthy)", unit: "µs", direct: single.p50, tunnel: listed.p50,
                target: "≤ 1.05×", note: "direct: purr connect A; tunnel: purr connect A B (failover), both to A"),
            Row("failover", "\(label) p99: one server → two (first healthy)", unit: "µs", direct: single.p99, tunnel: listed.p99),
        ]

        // Drain first (A keeps one relay live, so it answers 503 instead of closing), then a restart and kill -9.
        let held = try Socket.connect(port: stack.oneServerPort, timeout: 5)
        let drained: (milliseconds: Double, failures: Int)
        do {
            try held.sendByte(0x2a)
            guard try held.receiveByte() == 0x2a else { throw BenchError("echo lost or changed its byte") }
            drained = try stack.timeToFirstEcho(through: stack.twoServersPort, after: { kill(stack.serverA.pid, SIGTERM) })
            held.close()
        } catch {
            held.close()
            throw error
        }
        rows.append(
            Row(
                "failover", "drain of A (503 while a relay is live) → first echo through B", unit: "ms", direct: nil,
                tunnel: drained.milliseconds, note: "\(drained.failures) connects failed on the way"))
        try stack.restartA()
        let killed = try stack.timeToFirstEcho(through: stack.twoServersPort, after: { kill(stack.serverA.pid, SIGKILL) })
        rows.append(
            Row(
                "failover", "kill -9 of A → first echo through B", unit: "ms", direct: nil, tunnel: killed.milliseconds,
                note: "\(killed.failures) connects failed on the way"))
        return rows
    }
}

/// Servers A and B (one fixed route to the echo target each) and the two clients.
final class FailoverStack {
    private(set) var serverA: ChildProcess
    let serverB: ChildProcess
    let clients: [ChildProcess]
    let portA: Int
    let oneServerPort: Int
    let twoServersPort: Int
    private let binDir: String
    private let echo: Int
    private let logLevel: String

    init(binDir: String, echo: Int, logLevel: String) throws {
        self.binDir = binDir
        self.echo = echo
        self.logLevel = logLevel
        serverA = try Self.server(binDir: binDir, echo: echo, port: 0, name: "a", logLevel: logLevel)
        var started: [ChildProcess] = [serverA]
        do {
            portA = try serverA.waitForPort(afterPrefix: "listening on ")
            let b = try Self.server(binDir: binDir, echo: echo, port: 0, name: "b", logLevel: logLevel)
            started.append(b)
            serverB = b
            let portB = try b.waitForPort(afterPrefix: "listening on ")
            let logDir = FileManager.default.temporaryDirectory.path
            func client(_ urls: [String], _ name: String) throws -> ChildProcess {
                let process = try ChildProcess(
                    "\(binDir)/purr", ["connect"] + urls + ["--listen", "127.0.0.1:0", "--log-level", logLevel],
                    logPath: "\(logDir)/purr-bench-failover-\(name).log")
                started.append(process)
                return process
            }
            let one = try client(["http://127.0.0.1:\(portA)/f"], "one")
            oneServerPort = try one.waitForPort(afterPrefix: "listening on ")
            let two = try client(["http://127.0.0.1:\(portA)/f", "http://127.0.0.1:\(portB)/f"], "two")
            twoServersPort = try two.waitForPort(afterPrefix: "listening on ")
            clients = [one, two]
        } catch {
            for process in started { process.stop() }
            throw error
        }
    }

    private static func server(binDir: String, echo: Int, port: Int, name: String, logLevel: String) throws -> ChildProcess {
        let logDir = FileManager.default.temporaryDirectory.path
        return try ChildProcess(
            "\(binDir)/purr-server",
            [
                "--listen", "127.0.0.1:\(port)", "--route", "/f=127.0.0.1:\(echo)", "--log-level", logLevel, "--drain-timeout", "30",
                "--max-connections", "100000", "--max-connections-per-peer", "0",
            ],
            logPath: "\(logDir)/purr-bench-failover-server-\(name).log")
    }

    /// A again on its port, once the drained one has exited.
    func restartA() throws {
        serverA.stop()
        serverA = try Self.server(binDir: binDir, echo: echo, port: portA, name: "a2", logLevel: logLevel)
        _ = try serverA.waitForPort(afterPrefix: "listening on ")
    }

    /// Runs `event`, then connects through `port` (1 B echoed) until one succeeds: the time from the event
    /// to that echo, and the connects that failed before it.
    func timeToFirstEcho(through port: Int, after event: () -> Void) throws -> (milliseconds: Double, failures: Int) {
        let start = Clock.nanos()
        event()
        var failures = 0
        let deadline = Clock.seconds() + 30
        while Clock.seconds() < deadline {
            if (try? LatencyWorkloads.connectOnce(port: port)) != nil {
                return (Double(Clock.nanos() - start) / 1e6, failures)
            }
            failures += 1
        }
        throw BenchError("no echo through the second server within 30 s of the first one's end")
    }

    func stop() {
        for client in clients { client.stop() }
        serverA.stop()
        serverB.stop()
    }
}
