import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Workload 5: a writer pushing as fast as it can into a reader that takes `slowRate`. The relay must
/// stop reading rather than buffer, so the processes' memory should barely move.
enum SlowReaderWorkload {
    struct Outcome {
        var written = 0
        var read = 0
        var growth: (server: Int, client: Int) = (0, 0)
    }

    static func run(_ context: BenchContext) throws -> [Row] {
        let plan = context.plan
        let direct = try push(context, tunneled: false)
        let tunnel = try push(context, tunneled: true)
        let mib = Double(Plan.mebibyte)
        let window = "\(Int(plan.slowSeconds)) s at \(plan.slowRate / Plan.mebibyte) MiB/s"
        let scaled = "scaled: RSS sampled over \(window) of reading while the writer pushes as fast as it can (1 GiB would take 17 min)"
        return [
            Row(
                "slow", "server RSS growth (\(window))", unit: "MiB", direct: nil, tunnel: Double(tunnel.growth.server) / mib,
                target: "≤ 16 MiB", note: scaled),
            Row(
                "slow", "client RSS growth (\(window))", unit: "MiB", direct: nil, tunnel: Double(tunnel.growth.client) / mib,
                target: "≤ 16 MiB"),
            Row(
                "slow", "bytes in flight (written − read)", unit: "MiB", direct: Double(direct.written - direct.read) / mib,
                tunnel: Double(tunnel.written - tunnel.read) / mib),
        ]
    }

    /// Runs the writer for the window while sampling the relay's memory every 100 ms.
    private static func push(_ context: BenchContext, tunneled: Bool) throws -> Outcome {
        let plan = context.plan
        let sink = try SinkServer(bytesPerSecond: plan.slowRate)
        defer { sink.stop() }
        let tunnel = tunneled ? try context.stack(target: sink.port, label: "slow") : nil
        defer { tunnel?.stop() }
        let socket = try Socket.connect(port: tunnel?.port ?? sink.port, timeout: 5)
        defer { socket.close() }
        socket.setTimeout(SO_SNDTIMEO, seconds: 0.1)
        Clock.sleep(0.2)
        let before = tunnel.map { (server: $0.server.rss, client: $0.client.rss) } ?? (server: 0, client: 0)
        var outcome = Outcome()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: Plan.mebibyte, alignment: 16)
        defer { chunk.deallocate() }
        chunk.initializeMemory(as: UInt8.self, repeating: 0x73)
        let end = Clock.seconds() + plan.slowSeconds
        var nextSample = 0.0
        while Clock.seconds() < end && outcome.written < Plan.gibibyte {
            outcome.written += try socket.sendSome(UnsafeRawBufferPointer(chunk))
            if let tunnel, Clock.seconds() >= nextSample {
                nextSample = Clock.seconds() + 0.1
                outcome.growth.server = max(outcome.growth.server, tunnel.server.rss - before.server)
                outcome.growth.client = max(outcome.growth.client, tunnel.client.rss - before.client)
            }
        }
        outcome.read = sink.received.load(ordering: .relaxed)
        return outcome
    }
}
