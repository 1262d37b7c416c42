import NIOSSL
import PurrCore
import Synchronization

/// One server of a tunnel as the tunnel holds it for its whole life: its settings, its upgrade request
/// serialized once, and whether it said it keeps early data.
final class ServerRuntime: Sendable {
    let index: Int
    let config: TunnelConfig
    /// The request serialized once (nil on a dynamic tunnel: its path differs per connection).
    let requestBytes: RequestBytes?
    /// This server's last 101 carried `Purr-Early-Data: 1`.
    let earlyDataAccepted = Atomic<Bool>(false)

    init(index: Int, config: TunnelConfig, offersEarlyData: Bool) {
        self.index = index
        self.config = config
        var template = config.upgradeRequest
        template.offersEarlyData = offersEarlyData
        self.requestBytes = config.mode.isDynamic ? nil : RequestBytes(template)
    }
}

/// What an open tunnel made for one server: its proxy, TLS context, warm pool, and the dialer every
/// connection to it, its pool and its probes start from (made once, not per connection).
struct OpenedServer: Sendable {
    var proxy: ProxySettings?
    var tls: NIOSSLContext?
    var pool: WarmPool?
    var dialer: ServerDialer

    init(runtime: ServerRuntime, proxy: ProxySettings?, tls: NIOSSLContext?) {
        self.proxy = proxy
        self.tls = tls
        dialer = ServerDialer(tunnel: runtime.config, proxy: proxy, tls: tls)
    }
}
