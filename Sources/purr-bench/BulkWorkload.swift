import Foundation

/// Workload 1: bulk throughput, one stream and several in parallel, into the sink.
enum BulkWorkload {
    static func run(_ context: BenchContext) throws -> [Row] {
        let plan = context.plan
        let sink = try SinkServer()
        defer { sink.stop() }
        let stack = try context.stack(target: sink.port, label: "bulk")
        defer { stack.stop() }
        var rows: [Row] = []
        let direct1 = try throughput(port: sink.port, streams: 1, bytes: plan.bulkBytes, timeout: plan.loopTimeout)
        let cpuBefore = (stack.server.cpuSeconds, stack.client.cpuSeconds)
        let tunnel1 = try throughput(port: stack.port, streams: 1, bytes: plan.bulkBytes, timeout: plan.loopTimeout)
        let gib = Double(plan.bulkBytes) / Double(Plan.gibibyte)
        let serverCPU = (stack.server.cpuSeconds - cpuBefore.0) / gib
        let clientCPU = (stack.client.cpuSeconds - cpuBefore.1) / gib
        rows.append(
            Row(
                "bulk", "1 stream, \(sizeLabel(plan.bulkBytes))", unit: "MiB/s", direct: direct1, tunnel: tunnel1, target: "≥ 0.36×",
                note: String(format: "tunnel CPU per GiB: server %.2f s, client %.2f s", serverCPU, clientCPU)))
        let streams = plan.parallelStreams
        let directN = try throughput(port: sink.port, streams: streams, bytes: plan.parallelBytes, timeout: plan.loopTimeout)
        let tunnelN = try throughput(port: stack.port, streams: streams, bytes: plan.parallelBytes, timeout: plan.loopTimeout)
        rows.append(
            Row("bulk", "\(streams) streams × \(sizeLabel(plan.parallelBytes))", unit: "MiB/s", direct: directN, tunnel: tunnelN))
        return rows
    }

    static func sizeLabel(_ bytes: Int) -> String {
        bytes >= Plan.gibibyte && bytes % Plan.gibibyte == 0 ? "\(bytes / Plan.gibibyte) GiB" : "\(bytes / Plan.mebibyte) MiB"
    }

    /// MiB/s over all streams: from the first write until the sink has acknowledged the last byte.
    static func throughput(port: Int, streams: Int, bytes: Int, timeout: Double) throws -> Double {
        let start = Clock.seconds()
        _ = try Threads.run(streams) { _ in try push(port: port, bytes: bytes, deadline: start + timeout) }
        let elapsed = Clock.seconds() - start
        return Double(bytes * streams) / Double(Plan.mebibyte) / elapsed
    }

    /// Writes `bytes` in 1 MiB sends, shuts the write side, and waits for the sink's one-byte ack.
    private static func push(port: Int, bytes: Int, deadline: Double) throws {
        let socket = try Socket.connect(port: port, timeout: 30)
        defer { socket.close() }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: Plan.mebibyte, alignment: 16)
        defer { chunk.deallocate() }
        chunk.initializeMemory(as: UInt8.self, repeating: 0x61)
        var left = bytes
        while left > 0 {
            let count = min(left, chunk.count)
            try socket.sendAll(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
            left -= count
            if left & (64 * Plan.mebibyte - 1) == 0, Clock.seconds() > deadline {
                throw BenchError("bulk stream took longer than its time limit")
            }
        }
        socket.shutdownWrite()
        guard try socket.receiveByte() != nil else { throw BenchError("the sink closed without acknowledging (bytes lost?)") }
    }
}
