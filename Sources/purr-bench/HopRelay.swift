#if canImport(Glibc)
    import Glibc
#endif

/// A bare relay hop for the `ceiling` workload: accepts, connects onward, and moves bytes with either
/// read/write through a user-space buffer or splice(2) through a pipe (no copy into user space).
/// Blocking threads, no framework: what any two-hop relay on this machine can reach at best.
final class HopRelay: Sendable {
    enum Mode: String, Sendable {
        case copy
        case splice
    }

    let listener: Listener
    let mode: Mode
    let next: Int

    var port: Int { listener.port }

    init(mode: Mode, next: Int) throws(BenchError) {
        self.listener = try Listener()
        self.mode = mode
        self.next = next
        let hop = self
        Threads.detach("hop-accept") {
            while let inbound = hop.listener.accept() {
                guard let outbound = try? Socket.connect(port: hop.next, timeout: 30) else {
                    inbound.close()
                    continue
                }
                Threads.detach("hop-up") { hop.pump(from: inbound, to: outbound) }
                Threads.detach("hop-down") { hop.pump(from: outbound, to: inbound, closeAfter: true) }
            }
        }
    }

    /// Moves bytes until end of input, then passes the half-close on.
    private func pump(from source: Socket, to sink: Socket, closeAfter: Bool = false) {
        source.setTimeout(SO_RCVTIMEO, seconds: 0)
        switch mode {
        case .copy: copy(from: source, to: sink)
        case .splice: splice(from: source, to: sink)
        }
        sink.shutdownWrite()
        if closeAfter {
            source.close()
            sink.close()
        }
    }

    private func copy(from source: Socket, to sink: Socket) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while let count = try? source.receive(into: buffer), count > 0 {
            guard (try? sink.sendAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))) != nil else { return }
        }
    }

    private func splice(from source: Socket, to sink: Socket) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        defer {
            close(ends[0])
            close(ends[1])
        }
        _ = fcntl(ends[1], Self.setPipeSize, Int32(1 << 20))
        let flags = Self.spliceMove | Self.spliceMore
        let splice = Self.spliceCall
        while true {
            let moved = splice(source.fd, nil, ends[1], nil, 1 << 20, flags)
            if moved < 0 && errno == EINTR { continue }
            guard moved > 0 else { return }
            var left = moved
            while left > 0 {
                let out = splice(ends[0], nil, sink.fd, nil, left, flags)
                if out < 0 && errno == EINTR { continue }
                guard out > 0 else { return }
                left -= out
            }
        }
    }

    // splice(2) and its constants are behind _GNU_SOURCE, which Swift's Glibc module does not define.
    private typealias SpliceFunction =
        @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
    private static let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ
    private static let spliceMove: UInt32 = 1  // SPLICE_F_MOVE
    private static let spliceMore: UInt32 = 4  // SPLICE_F_MORE
    private static let spliceCall: SpliceFunction = unsafeBitCast(dlsym(nil, "splice")!, to: SpliceFunction.self)

    func stop() {
        listener.close()
    }
}
