import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A plain blocking TCP client socket for tests: every read has a timeout, so no test can hang.
public final class BlockingSocket: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let fd: Int32
    private var closed = false

    /// Connects to 127.0.0.1 or ::1 (decided by the host string); `source`: an IPv4 loopback address to
    /// connect from (another peer address, as the server sees it).
    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 5, source: String? = nil) throws {
        let isV6 = host.contains(":")
        fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            closed = true
            throw Failure(description: "socket: \(String(cString: strerror(errno)))")
        }
        Self.setTimeout(fd, SO_RCVTIMEO, timeout)
        Self.setTimeout(fd, SO_SNDTIMEO, timeout)
        if let source, !isV6 {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        let result: Int32
        if isV6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, host, &addr.sin6_addr)
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &addr.sin_addr)
            result = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            let message = String(cString: strerror(errno))
            // Through close(), once: a throwing init still runs deinit (every property is set), and a
            // second close could hit a descriptor number another thread (NIO) has reused meanwhile.
            close()
            throw Failure(description: "connect to \(host):\(port): \(message)")
        }
    }

    /// Wraps an accepted socket.
    public init(adopting fd: Int32, timeout: Double = 5) {
        self.fd = fd
        Self.setTimeout(fd, SO_RCVTIMEO, timeout)
        Self.setTimeout(fd, SO_SNDTIMEO, timeout)
    }

    deinit { close() }

    static func setTimeout(_ fd: Int32, _ option: Int32, _ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func setReadTimeout(_ seconds: Double) { Self.setTimeout(fd, SO_RCVTIMEO, seconds) }

    /// A write that cannot go on for this long throws (a peer that stopped reading).
    public func setWriteTimeout(_ seconds: Double) { Self.setTimeout(fd, SO_SNDTIMEO, seconds) }

    /// Sets the kernel receive buffer (a small one makes a slow reader slow quickly).
    public func setReceiveBuffer(_ bytes: Int32) {
        var value = bytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(raw: $0) }
    }

    public func write(_ string: String) throws { try write(Array(string.utf8)) }

    public func write(raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// One read: up to `max` bytes; empty on EOF; throws on timeout or error.
    public func read(max: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                let what = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : String(cString: strerror(errno))
                throw Failure(description: "recv: \(what)")
            }
            return Array(buffer[0..<n])
        }
    }

    /// Reads exactly `count` bytes (or throws on EOF/timeout).
    public func read(exactly count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        while result.count < count {
            let chunk = try read(max: count - result.count)
            if chunk.isEmpty { throw Failure(description: "EOF after \(result.count) of \(count) bytes") }
            result += chunk
        }
        return result
    }

    /// Reads until the peer closes its write side.
    public func readToEnd(limit: Int = 64 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        while true {
            let chunk = try read()
            if chunk.isEmpty { return result }
            result += chunk
            if result.count > limit { throw Failure(description: "more than \(limit) bytes") }
        }
    }

    /// Reads an HTTP head (through the blank line); returns it and any bytes after it.
    public func readHead() throws -> (head: String, rest: [UInt8]) {
        var data: [UInt8] = []
        while true {
            let chunk = try read()
            if chunk.isEmpty { throw Failure(description: "EOF before end of head; got \(String(decoding: data, as: UTF8.self))") }
            data += chunk
            if let end = Self.find([13, 10, 13, 10], in: data) {
                return (String(decoding: data[0..<end + 4], as: UTF8.self), Array(data[(end + 4)...]))
            }
        }
    }

    /// Reads a whole error response (head and the body until close).
    public func readResponse() throws -> (status: Int, head: String, body: String) {
        let (head, rest) = try readHead()
        var body = rest
        while let chunk = try? read(), !chunk.isEmpty { body += chunk }
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? -1
        return (status, head, String(decoding: body, as: UTF8.self))
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<i + needle.count]) == needle { return i }
        }
        return nil
    }

    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with a reset (SO_LINGER 0), as a crashed client would.
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    public func close() {
        if !closed {
            closed = true
            Glibc.close(fd)
        }
    }
}

/// A listening IPv4 loopback socket on a free port, for the thread-based test servers.
public enum LoopbackListener {
    public static func open(backlog: Int32 = 64) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(fd, backlog)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }
}
