import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A target whose connect takes seconds: a listener with a full accept queue (backlog 0 and one
/// connection never accepted), so the kernel drops a new connection's SYN and the connecting side waits
/// in SYN retransmits (1 s, 3 s, 7 s). `releaseAndRead` frees the queue and reads the connection that
/// then gets through; `stall` fills the queue again for the next one.
public final class StalledTarget: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private var filler: BlockingSocket?
    private var stopped = false

    public init() throws {
        (listener, port) = LoopbackListener.open(backlog: 0)
        try stall()
    }

    deinit { stop() }

    /// Fills the accept queue: connections from now on wait.
    public func stall() throws {
        filler = try BlockingSocket(port: port)
    }

    /// Accepts and drops the filler, then accepts the next connection (within `timeout` seconds) and reads
    /// it until its end of input (or `limit` bytes).
    public func releaseAndRead(limit: Int = 256 << 20, timeout: Double = 15) throws -> [UInt8] {
        guard let first = accept(timeout: timeout) else { throw BlockingSocket.Failure(description: "the filler was not queued") }
        first.close()
        filler?.close()
        filler = nil
        guard let relayed = accept(timeout: timeout) else {
            throw BlockingSocket.Failure(description: "no connection reached the target within \(timeout) s")
        }
        defer { relayed.close() }
        relayed.setReadTimeout(timeout)
        return try relayed.readToEnd(limit: limit)
    }

    private func accept(timeout: Double) -> BlockingSocket? {
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout * 1000)) == 1 else { return nil }
        let fd = Glibc.accept(listener, nil, nil)
        return fd >= 0 ? BlockingSocket(adopting: fd, timeout: timeout) : nil
    }

    public func stop() {
        guard !stopped else { return }
        stopped = true
        filler?.close()
        filler = nil
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

extension BlockingSocket {
    /// Writes `payload` from `offset` until a write blocks for `stallAfter` seconds (the peer stopped
    /// reading) or all is written; returns the new offset. Leaves the send timeout at `stallAfter`.
    public func writeUntilStalled(_ payload: [UInt8], from offset: Int = 0, stallAfter: Double = 1) -> Int {
        Self.setTimeout(fd, SO_SNDTIMEO, stallAfter)
        var offset = offset
        payload.withUnsafeBytes { bytes in
            while offset < bytes.count {
                let n = send(fd, bytes.baseAddress! + offset, min(256 * 1024, bytes.count - offset), Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // EAGAIN after the timeout: stalled
                }
                offset += n
            }
        }
        return offset
    }

    /// Writes the rest of `payload` (from `offset`) on a thread of its own, then shuts the write side: the
    /// peer reads meanwhile. Each write may block up to `timeout` seconds.
    public func finishWriting(_ payload: [UInt8], from offset: Int, timeout: Double = 20) {
        Self.setTimeout(fd, SO_SNDTIMEO, timeout)
        Thread {
            _ = try? payload.withUnsafeBytes { try self.write(raw: UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            self.shutdownWrite()
        }.start()
    }
}
