/// Workloads 2 and 3: connection setup and ping-pong latency against the echo target.
enum LatencyWorkloads {
    static func connect(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let paths = try PathSet(context, target: echo.port, label: "connect")
        defer { paths.stop() }
        let plan = context.plan
        // `--socks5`: the same target through a dynamic tunnel's SOCKS5 port, judged against a fixed tunnel
        // on the same server.
        let socks =
            plan.socks5
            ? try SocksStack(binDir: context.binDir, target: echo.port, label: "connect-socks5", logLevel: plan.tunnelLogLevel) : nil
        defer { socks?.stop() }
        var fixedSamples: [UInt64] = []
        var socksSamples: [UInt64] = []
        var pipelinedSamples: [UInt64] = []
        let deadline = Clock.seconds() + plan.loopTimeout
        // Alternate the paths sample by sample: on this VM a sleeping vCPU's wake-up costs tens of µs,
        // so every path must see the same machine state for their ratios to mean anything.
        var samples = Array(repeating: [UInt64](), count: paths.paths.count)
        let warmUp = min(50, plan.connectCount)
        for index in 0..<(plan.connectCount + warmUp) {
            for (slot, path) in paths.paths.enumerated() {
                let nanos = try connectOnce(port: path.port)
                if index >= warmUp { samples[slot].append(nanos) }
            }
            if let socks {
                let fixed = try connectOnce(port: socks.fixedPort)
                let nanos = try SocksStack.connectOnce(port: socks.port, target: echo.port)
                let pipelined = try SocksStack.connectOnce(port: socks.port, target: echo.port, pipelined: true)
                if index >= warmUp {
                    fixedSamples.append(fixed)
                    socksSamples.append(nanos)
                    pipelinedSamples.append(pipelined)
                }
            }
            if Clock.seconds() > deadline { throw BenchError("connect loop took longer than \(Int(plan.loopTimeout)) s") }
        }
        var p50: [PathSet.Kind: Double] = [:]
        var p99: [PathSet.Kind: Double] = [:]
        for (slot, path) in paths.paths.enumerated() {
            let percentiles = Percentiles(nanos: samples[slot])
            p50[path.kind] = percentiles.p50
            p99[path.kind] = percentiles.p99
        }
        let label = "\(plan.connectCount)× connect, 1 B echo, close"
        var rows = PathSet.rows("connect", "\(label) p50", unit: "µs", figures: p50, target: "≤ 1.2× 2-hop", note: paths.note)
        rows += PathSet.rows("connect", "\(label) p99", unit: "µs", figures: p99)
        if socks != nil {
            let fixed = Percentiles(nanos: fixedSamples)
            let dynamic = Percentiles(nanos: socksSamples)
            rows.append(
                Row(
                    "connect", "\(label) p50: fixed → socks5", unit: "µs", direct: fixed.p50, tunnel: dynamic.p50, target: "≤ 1.1×",
                    note: "direct: a fixed tunnel, tunnel: a SOCKS5 port (greeting, CONNECT, reply, then the echo), one server for both"))
            rows.append(Row("connect", "\(label) p99: fixed → socks5", unit: "µs", direct: fixed.p99, tunnel: dynamic.p99))
            // The same with greeting, CONNECT and the byte in one write: what is left once the protocol's
            // own round trips (the byte waits for the reply) are taken out.
            rows.append(
                Row(
                    "connect", "\(label) p50: fixed → socks5 pipelined", unit: "µs", direct: fixed.p50,
                    tunnel: Percentiles(nanos: pipelinedSamples).p50))
        }
        return rows
    }

    static func pingPong(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let stack = try context.stack(target: echo.port, label: "pingpong")
        defer { stack.stop() }
        let plan = context.plan
        let direct = try Socket.connect(port: echo.port, timeout: 5)
        defer { direct.close() }
        let tunnel = try Socket.connect(port: stack.port, timeout: 5)
        defer { tunnel.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: plan.pingSize, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x70)
        let deadline = Clock.seconds() + plan.loopTimeout
        var directSamples: [UInt64] = []
        var tunnelSamples: [UInt64] = []
        for round in 0..<(plan.pingRounds + 100) {  // alternating, as for connect; the first 100 warm up
            let d = try roundTrip(direct, buffer)
            let t = try roundTrip(tunnel, buffer)
            if round >= 100 {
                directSamples.append(d)
                tunnelSamples.append(t)
            }
            if Clock.seconds() > deadline { throw BenchError("ping-pong loop took longer than \(Int(plan.loopTimeout)) s") }
        }
        let d = Percentiles(nanos: directSamples)
        let t = Percentiles(nanos: tunnelSamples)
        let label = "\(plan.pingRounds)× \(plan.pingSize) B round trip"
        return [
            Row("pingpong", "\(label) p50", unit: "µs", direct: d.p50, tunnel: t.p50, target: "≤ 2.3×"),
            Row("pingpong", "\(label) p99", unit: "µs", direct: d.p99, tunnel: t.p99),
        ]
    }

    /// `connectOnce` through each of `ports` in turn, sample by sample (the machine's state is then the same
    /// for each), `plan.connectCount` times after a warm-up: the samples per port, in `ports`' order.
    static func alternating(_ ports: [Int], plan: Plan, label: String) throws -> [[UInt64]] {
        var samples = Array(repeating: [UInt64](), count: ports.count)
        let deadline = Clock.seconds() + plan.loopTimeout
        let warmUp = min(50, plan.connectCount)
        for index in 0..<(plan.connectCount + warmUp) {
            for (slot, port) in ports.enumerated() {
                let nanos = try connectOnce(port: port)
                if index >= warmUp { samples[slot].append(nanos) }
            }
            if Clock.seconds() > deadline { throw BenchError("\(label) connect loop took longer than \(Int(plan.loopTimeout)) s") }
        }
        return samples
    }

    /// Connect, send one byte, read it back, close: nanoseconds.
    static func connectOnce(port: Int) throws -> UInt64 {
        let start = Clock.nanos()
        let socket = try Socket.connect(port: port, timeout: 5)
        do {
            try socket.sendByte(0x2a)
            guard try socket.receiveByte() == 0x2a else { throw BenchError("echo lost or changed its byte") }
        } catch {
            socket.close()
            throw error
        }
        socket.close()
        return Clock.nanos() - start
    }

    /// One send of the buffer and reading it back on a held connection: nanoseconds.
    static func roundTrip(_ socket: Socket, _ buffer: UnsafeMutableRawBufferPointer) throws -> UInt64 {
        let start = Clock.nanos()
        try socket.sendAll(UnsafeRawBufferPointer(buffer))
        try socket.receiveExactly(into: buffer)
        return Clock.nanos() - start
    }
}
