/// Not one of the workloads: what a bare two-hop relay reaches on this machine, with copies
/// through user space and with splice(2). It bounds what Purr's relay (two hops, read/write through
/// NIO) can hope for, and what a zero-copy path would buy.
enum CeilingWorkload {
    static func run(_ context: BenchContext) throws -> [Row] {
        let bytes = context.plan.bulkBytes
        let sink = try SinkServer()
        defer { sink.stop() }
        let direct = try BulkWorkload.throughput(port: sink.port, streams: 1, bytes: bytes, timeout: context.plan.loopTimeout)
        var rows: [Row] = []
        for mode in [HopRelay.Mode.copy, .splice] {
            let second = try HopRelay(mode: mode, next: sink.port)
            defer { second.stop() }
            let first = try HopRelay(mode: mode, next: second.port)
            defer { first.stop() }
            let relayed = try BulkWorkload.throughput(port: first.port, streams: 1, bytes: bytes, timeout: context.plan.loopTimeout)
            rows.append(
                Row(
                    "ceiling", "bare 2-hop \(mode.rawValue) relay, 1 stream, \(BulkWorkload.sizeLabel(bytes))", unit: "MiB/s",
                    direct: direct, tunnel: relayed, note: mode == .splice ? "tunnel column: a bare relay in this process, not Purr" : nil))
        }
        // The epoll relay of `connect` and `rate` (16 KiB buffers, one thread per hop), for reference.
        let second = try EpollRelay(next: sink.port)
        defer { second.stop() }
        let first = try EpollRelay(next: second.port)
        defer { first.stop() }
        let relayed = try BulkWorkload.throughput(port: first.port, streams: 1, bytes: bytes, timeout: context.plan.loopTimeout)
        rows.append(
            Row(
                "ceiling", "bare 2-hop epoll relay (16 KiB buffers), 1 stream, \(BulkWorkload.sizeLabel(bytes))", unit: "MiB/s",
                direct: direct, tunnel: relayed, note: "tunnel column: the connect/rate baseline relay, not Purr"))
        return rows
    }
}
