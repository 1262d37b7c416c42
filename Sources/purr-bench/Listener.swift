#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A blocking listening socket on 127.0.0.1 with a free port.
struct Listener: Sendable {
    let fd: Int32
    let port: Int

    init() throws(BenchError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError.errno("socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Socket.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4096) == 0 else { throw BenchError.errno("bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// The next connection, or nil once the listener is shut.
    func accept() -> Socket? {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 { return Socket(fd: client) }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    /// A free port for a program that cannot report the one it picked: bound here, then released.
    func closedPort() -> Int {
        close()
        return port
    }

    /// Wakes a thread blocked in `accept` (shutdown does that on Linux; close alone does not).
    func close() {
        _ = shutdown(fd, Int32(SHUT_RDWR))
        _ = Glibc.close(fd)
    }
}
