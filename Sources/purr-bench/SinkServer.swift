import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The bulk and slow-reader target: reads everything with large buffers and no per-byte work, then
/// answers one byte at end of input so the writer knows every byte arrived. With `bytesPerSecond`
/// it reads no faster than that (the slow reader).
final class SinkServer: Sendable {
    let listener: Listener
    let bytesPerSecond: Int?
    /// Bytes read by all connections so far.
    let received = Atomic<Int>(0)
    /// Set to make every connection close at its next read (the slow reader never drains otherwise).
    let stopping = Atomic<Bool>(false)

    var port: Int { listener.port }

    init(bytesPerSecond: Int? = nil) throws(BenchError) {
        self.listener = try Listener()
        self.bytesPerSecond = bytesPerSecond
        let server = self
        Threads.detach("sink-accept") {
            while let connection = server.listener.accept() {
                Threads.detach("sink") { server.serve(connection) }
            }
        }
    }

    private func serve(_ connection: Socket) {
        defer { connection.close() }
        connection.setTimeout(SO_RCVTIMEO, seconds: 1)
        let chunk = bytesPerSecond.map { min(64 * 1024, $0 / 16) } ?? 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        let start = Clock.seconds()
        var total = 0
        while !stopping.load(ordering: .relaxed) {
            let count: Int
            do { count = try connection.receive(into: buffer) } catch { continue }  // timeout: check stopping
            if count == 0 {
                try? connection.sendByte(0x6b)
                return
            }
            total += count
            received.add(count, ordering: .relaxed)
            if let bytesPerSecond {
                let due = start + Double(total) / Double(bytesPerSecond)
                Clock.sleep(due - Clock.seconds())
            }
        }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        listener.close()
    }
}
