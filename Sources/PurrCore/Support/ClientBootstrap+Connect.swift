import NIOCore
import NIOPosix

extension ClientBootstrap {
    /// Connects to `target`. An IP literal connects straight away: `connect(host:port:)` would run
    /// getaddrinfo twice (A and AAAA, for happy eyeballs) on a Dispatch queue first, a thread hop
    /// and most of the tunnel's connection-setup time on loopback (issue #6, purr-bench `connect`).
    public func connect(to target: HostPort) -> EventLoopFuture<any Channel> {
        if let address = try? SocketAddress(ipAddress: target.host, port: target.port) {
            return connect(to: address)
        }
        return connect(host: target.host, port: target.port)
    }
}
