import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SocketAddress {
    /// Whether this is a loopback address, judged from its bytes: 127.0.0.0/8, `::1`, and IPv4 loopback
    /// mapped into IPv6 (`::ffff:127.0.0.1`). Unix sockets count as local.
    public var isLoopback: Bool {
        switch self {
        case .v4:
            guard let text = ipAddress else { return false }
            var bytes = [UInt8](repeating: 0, count: 4)
            guard inet_pton(AF_INET, text, &bytes) == 1 else { return false }
            return bytes[0] == 127
        case .v6:
            guard let text = ipAddress else { return false }
            var bytes = [UInt8](repeating: 0, count: 16)
            guard inet_pton(AF_INET6, text, &bytes) == 1 else { return false }
            let loopback = bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
            let mapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
            return loopback || mapped
        case .unixDomainSocket:
            return true
        }
    }
}
