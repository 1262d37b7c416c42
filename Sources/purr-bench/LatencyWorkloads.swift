/// Workloads 2 and 3: connection setup and ping-pong latency against the echo target.
enum LatencyWorkloads {
    static func connect(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let stack = try context.stack(target: echo.port, label: "connect")
        defer { stack.stop() }
        let count = context.plan.connectCount
        let warmup = min(50, count)
        _ = try connectSamples(port: echo.port, count: warmup, timeout: context.plan.loopTimeout)
        _ = try connectSamples(port: stack.port, count: warmup, timeout: context.plan.loopTimeout)
        let direct = Percentiles(nanos: try connectSamples(port: echo.port, count: count, timeout: context.plan.loopTimeout))
        let tunnel = Percentiles(nanos: try connectSamples(port: stack.port, count: count, timeout: context.plan.loopTimeout))
        let label = "\(count)× connect, 1 B echo, close"
        return [
            Row("connect", "\(label) p50", unit: "µs", direct: direct.p50, tunnel: tunnel.p50, target: "≤ 2.7×"),
            Row("connect", "\(label) p99", unit: "µs", direct: direct.p99, tunnel: tunnel.p99),
        ]
    }

    static func pingPong(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let stack = try context.stack(target: echo.port, label: "pingpong")
        defer { stack.stop() }
        let plan = context.plan
        let direct = Percentiles(nanos: try pingSamples(port: echo.port, plan: plan))
        let tunnel = Percentiles(nanos: try pingSamples(port: stack.port, plan: plan))
        let label = "\(plan.pingRounds)× \(plan.pingSize) B round trip"
        return [
            Row("pingpong", "\(label) p50", unit: "µs", direct: direct.p50, tunnel: tunnel.p50, target: "≤ 2.3×"),
            Row("pingpong", "\(label) p99", unit: "µs", direct: direct.p99, tunnel: tunnel.p99),
        ]
    }

    /// Each sample: connect, send one byte, read it back, close.
    private static func connectSamples(port: Int, count: Int, timeout: Double) throws -> [UInt64] {
        let deadline = Clock.seconds() + timeout
        var samples: [UInt64] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
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
            samples.append(Clock.nanos() - start)
            if Clock.seconds() > deadline { throw BenchError("connect loop took longer than \(Int(timeout)) s") }
        }
        return samples
    }

    /// One held connection; each sample is one send of `pingSize` bytes and reading them back.
    private static func pingSamples(port: Int, plan: Plan) throws -> [UInt64] {
        let socket = try Socket.connect(port: port, timeout: 5)
        defer { socket.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: plan.pingSize, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x70)
        let deadline = Clock.seconds() + plan.loopTimeout
        var samples: [UInt64] = []
        samples.reserveCapacity(plan.pingRounds)
        for round in 0..<(plan.pingRounds + 100) {
            let start = Clock.nanos()
            try socket.sendAll(UnsafeRawBufferPointer(buffer))
            try socket.receiveExactly(into: buffer)
            if round >= 100 { samples.append(Clock.nanos() - start) }  // the first 100 warm up
            if Clock.seconds() > deadline { throw BenchError("ping-pong loop took longer than \(Int(plan.loopTimeout)) s") }
        }
        return samples
    }
}
