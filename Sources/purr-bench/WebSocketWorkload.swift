import Foundation

/// The `websocket` workload: one target behind two tunnels in the same run, the original protocol
/// (raw bytes) and a real WebSocket (`purr connect ws://`, binary frames, masking on the client side).
/// Here `direct` is the raw tunnel and `tunnel` the WebSocket one: the ratio is what framing costs.
enum WebSocketWorkload {
    static func run(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let plan = context.plan
        let sink = try SinkServer()
        defer { sink.stop() }
        let raw = try context.stack(target: sink.port, label: "ws-raw")
        defer { raw.stop() }
        let framed = try context.stack(target: sink.port, label: "ws-framed", scheme: "ws")
        defer { framed.stop() }
        let gib = Double(plan.bulkBytes) / Double(Plan.gibibyte)
        var cpu: [String] = []
        var speeds: [Double] = []
        for (name, stack) in [("raw", raw), ("websocket", framed)] {
            let before = (stack.server.cpuSeconds, stack.client.cpuSeconds)
            speeds.append(try BulkWorkload.throughput(port: stack.port, streams: 1, bytes: plan.bulkBytes, timeout: plan.loopTimeout))
            let server = (stack.server.cpuSeconds - before.0) / gib
            let client = (stack.client.cpuSeconds - before.1) / gib
            cpu.append(String(format: "%@ server %.2f s, client %.2f s", name, server, client))
        }
        var rows = [
            Row(
                "websocket", "bulk 1 stream, \(BulkWorkload.sizeLabel(plan.bulkBytes)): raw → ws", unit: "MiB/s", direct: speeds[0],
                tunnel: speeds[1], target: "≥ 0.9×", note: "CPU per GiB: " + cpu.joined(separator: "; "))
        ]

        let rawEcho = try context.stack(target: echo.port, label: "ws-raw-echo")
        defer { rawEcho.stop() }
        let framedEcho = try context.stack(target: echo.port, label: "ws-framed-echo", scheme: "ws")
        defer { framedEcho.stop() }
        let deadline = Clock.seconds() + plan.loopTimeout
        var connectRaw: [UInt64] = []
        var connectFramed: [UInt64] = []
        for index in 0..<(plan.connectCount + 50) {  // alternating; the first 50 warm up
            let r = try LatencyWorkloads.connectOnce(port: rawEcho.port)
            let f = try LatencyWorkloads.connectOnce(port: framedEcho.port)
            if index >= 50 {
                connectRaw.append(r)
                connectFramed.append(f)
            }
            if Clock.seconds() > deadline { throw BenchError("websocket connect loop took longer than \(Int(plan.loopTimeout)) s") }
        }
        rows.append(
            Row(
                "websocket", "\(plan.connectCount)× connect p50: raw → ws", unit: "µs", direct: Percentiles(nanos: connectRaw).p50,
                tunnel: Percentiles(nanos: connectFramed).p50))

        let rawSocket = try Socket.connect(port: rawEcho.port, timeout: 5)
        defer { rawSocket.close() }
        let framedSocket = try Socket.connect(port: framedEcho.port, timeout: 5)
        defer { framedSocket.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: plan.pingSize, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x70)
        var pingRaw: [UInt64] = []
        var pingFramed: [UInt64] = []
        for round in 0..<(plan.pingRounds + 100) {
            let r = try LatencyWorkloads.roundTrip(rawSocket, buffer)
            let f = try LatencyWorkloads.roundTrip(framedSocket, buffer)
            if round >= 100 {
                pingRaw.append(r)
                pingFramed.append(f)
            }
            if Clock.seconds() > deadline { throw BenchError("websocket ping-pong loop took longer than \(Int(plan.loopTimeout)) s") }
        }
        rows.append(
            Row(
                "websocket", "\(plan.pingRounds)× \(plan.pingSize) B round trip p50: raw → ws", unit: "µs",
                direct: Percentiles(nanos: pingRaw).p50, tunnel: Percentiles(nanos: pingFramed).p50))
        return rows
    }
}
