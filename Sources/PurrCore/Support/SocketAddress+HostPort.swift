import NIOCore

extension SocketAddress {
    /// `127.0.0.1:80` or `[::1]:80`, as addresses are written everywhere else in Purr.
    public var hostPortDescription: String {
        guard let ip = ipAddress, let port else { return "\(self)" }
        return HostPort(host: ip, port: port).description
    }
}
