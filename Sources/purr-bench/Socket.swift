#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A blocking TCP socket on 127.0.0.1: the load generator's only tool, so both paths pay the same
/// (and small) cost per call and no per-byte work happens in the bench.
struct Socket: Sendable {
    let fd: Int32

    /// Connects to 127.0.0.1:`port`, with Nagle off (latency workloads) and a receive timeout so no
    /// read can hang the bench.
    static func connect(port: Int, timeout: Double = 10) throws(BenchError) -> Socket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError.errno("socket") }
        let socket = Socket(fd: fd)
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = BenchError.errno("connect to 127.0.0.1:\(port)")
            socket.close()
            throw error
        }
        socket.setInt(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        socket.setTimeout(SO_RCVTIMEO, seconds: timeout)
        return socket
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        return address
    }

    func setInt(_ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// `SO_RCVTIMEO` or `SO_SNDTIMEO`.
    func setTimeout(_ name: Int32, seconds: Double) {
        var time = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, name, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `bytes`; throws on error or on a send timeout.
    func sendAll(_ bytes: UnsafeRawBufferPointer) throws(BenchError) {
        var offset = 0
        while offset < bytes.count {
            let sent = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                throw BenchError.errno("send")
            }
            offset += sent
        }
    }

    /// Writes what the socket takes now, up to `bytes.count`; 0 when a send timeout expired.
    func sendSome(_ bytes: UnsafeRawBufferPointer) throws(BenchError) -> Int {
        while true {
            let sent = send(fd, bytes.baseAddress!, bytes.count, Int32(MSG_NOSIGNAL))
            if sent >= 0 { return sent }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return 0 }
            throw BenchError.errno("send")
        }
    }

    /// One `recv`; 0 at end of input. Throws on error or timeout.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(BenchError) -> Int {
        while true {
            let count = recv(fd, buffer.baseAddress!, buffer.count, 0)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw BenchError.errno("recv")
        }
    }

    /// Reads exactly `buffer.count` bytes.
    func receiveExactly(into buffer: UnsafeMutableRawBufferPointer) throws(BenchError) {
        var offset = 0
        while offset < buffer.count {
            let count = try receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]))
            guard count > 0 else { throw BenchError("connection closed after \(offset) of \(buffer.count) bytes") }
            offset += count
        }
    }

    func sendByte(_ byte: UInt8) throws(BenchError) {
        var byte = byte
        try withUnsafeBytes(of: &byte) { (bytes) throws(BenchError) in try sendAll(bytes) }
    }

    /// One byte, or nil at end of input.
    func receiveByte() throws(BenchError) -> UInt8? {
        var byte: UInt8 = 0
        let count = try withUnsafeMutableBytes(of: &byte) { (bytes) throws(BenchError) in try receive(into: bytes) }
        return count == 1 ? byte : nil
    }

    func shutdownWrite() {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    func close() {
        _ = Glibc.close(fd)
    }
}
