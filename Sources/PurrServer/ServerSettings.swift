import Logging
import NIOCore
import PurrCore

/// What every connection handler of one server shares: an immutable snapshot of the settings of one
/// configuration generation. A reload makes a new one; each connection takes the current one once,
/// at accept (`SettingsHolder`), and keeps it for its whole life.
final class ServerSettings: Sendable {
    let routes: RouteTable
    let registry: StatsRegistry
    let logger: Logger
    let headerTimeout: TimeAmount
    let silentTimeout: TimeAmount
    let connectTimeout: TimeAmount = .seconds(10)
    /// How long a refused client may keep sending before we hang up on it.
    let lingerTimeout: TimeAmount = .seconds(2)

    let maxConnections: Int
    /// Connections per peer address not relaying yet; 0: no limit.
    let maxConnectionsPerPeer: Int
    let peers: PeerLimiter
    let maxHeadSize: Int
    /// nil: relays are never closed for being idle.
    let idleTimeout: TimeAmount?
    /// The largest WebSocket frame or message a client may send (1009 beyond).
    let webSocketMaxMessage: Int
    /// Browser origins whose WebSocket requests are accepted (`*`: any); requests without `Origin` always are.
    let webSocketOrigins: [String]
    /// Which configuration this is (1 at start, one more per successful reload).
    let generation: Int
    /// `[[reverse]]` entries (the same ones, with their live state, in every generation).
    let reverses: [ReverseEntry]
    /// Seconds in `Retry-After` on a draining server's 503s (upgrades and `/healthz`).
    let retryAfter: Int

    init(
        routes: RouteTable, registry: StatsRegistry, peers: PeerLimiter, logger: Logger, config: ServerConfig, generation: Int = 1
    ) {
        self.peers = peers
        self.maxConnectionsPerPeer = config.maxConnectionsPerPeer
        self.routes = routes
        self.registry = registry
        self.logger = logger
        self.headerTimeout = .nanoseconds(Int64(config.headerTimeout * 1e9))
        self.silentTimeout = .nanoseconds(Int64(config.silentTimeout * 1e9))
        self.maxConnections = config.maxConnections
        self.maxHeadSize = config.maxHeadSize
        self.webSocketMaxMessage = config.webSocketMaxMessage
        self.webSocketOrigins = config.webSocketOrigins
        self.idleTimeout = config.idleTimeout > 0 ? .nanoseconds(Int64(config.idleTimeout * 1e9)) : nil
        self.generation = generation
        self.reverses = config.reverses
        self.retryAfter = config.retryAfter
    }
}
