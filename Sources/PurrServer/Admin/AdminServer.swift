import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PurrCore
import Synchronization

/// The admin endpoint: health, stats JSON, a live event stream, Prometheus metrics and `POST /drain`
/// over HTTP/1.1.
public final class AdminServer: Sendable {
    /// Swappable on reload (the token); each new admin connection takes the current one.
    private let current: Mutex<AdminConfig>
    let registry: StatsRegistry
    let group: any EventLoopGroup
    let logger: Logger
    private let listener = Mutex<(any Channel)?>(nil)
    private let viewers = ChannelTracker()
    /// Serve HTTPS with the server's certificate.
    let tls: ServerTLS?
    /// What `POST /drain` calls (the server's `drain()`).
    let drain: (@Sendable () -> DrainStart)?

    public init(
        config: AdminConfig, registry: StatsRegistry, group: any EventLoopGroup, logger: Logger, tls: ServerTLS? = nil,
        drain: (@Sendable () -> DrainStart)? = nil
    ) {
        self.drain = drain
        // Someone may read /stats: each relayed connection's TCP health is read when it starts.
        TCPSampler.expectReaders()
        self.current = Mutex(config)
        self.tls = tls
        self.registry = registry
        self.group = group
        self.logger = logger
    }

    public var config: AdminConfig { current.withLock { $0 } }

    /// Takes a reloaded `[admin]`: the token applies to new admin connections at once; an address or
    /// TLS change waits for a restart (returned as notes for the log). A reload that would leave the
    /// running listener without a token where it is not on loopback is refused, changing nothing: the
    /// rule is judged against the address actually bound, not the new file's (which waits for a restart).
    public func reload(to new: AdminConfig) throws(ConfigError) -> [String] {
        try Self.checkToken(new.token, bound: listener.withLock { $0?.localAddress })
        return current.withLock { config in
            var notes: [String] = []
            if new.listen != config.listen {
                notes.append("admin address \(new.listen) takes effect at the next restart (still on \(config.listen))")
            }
            if new.tls != config.tls { notes.append("admin.tls takes effect at the next restart") }
            config.token = new.token
            config.viewerBacklogLimit = new.viewerBacklogLimit
            config.idleTimeout = new.idleTimeout
            config.maxConnections = new.maxConnections
            return notes
        }
    }

    /// Whether the reload of `new` would be taken (the same check as `reload`, changing nothing).
    public func check(_ new: AdminConfig) throws(ConfigError) {
        try Self.checkToken(new.token, bound: listener.withLock { $0?.localAddress })
    }

    /// An admin listener that is not on loopback needs a token: judged from the bound address's bytes.
    static func checkToken(_ token: String?, bound: SocketAddress?) throws(ConfigError) {
        guard token == nil, let bound, !bound.isLoopback else { return }
        throw ConfigError(
            "admin endpoint on non-loopback address \(bound.hostPortDescription) needs a token (--admin-token, admin.token or PURR_ADMIN_TOKEN)"
        )
    }

    public var port: Int { listener.withLock { $0?.localAddress?.port ?? 0 } }

    public func start() async throws {
        let config = self.config
        try config.validate()
        let registry = self.registry
        let server = self
        let logger = self.logger
        let viewers = self.viewers
        let tls = self.tls
        let drain = self.drain
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { AcceptPauseHandler.install(on: $0) }
            .childChannelInitializer { channel in
                // Over the cap, closed at once: a flood of idle sockets holds nothing of ours.
                let config = server.config
                if viewers.count >= config.maxConnections {
                    logger.debug("admin connection refused: too many open", metadata: ["limit": "\(config.maxConnections)"])
                    return channel.close()
                }
                viewers.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler()) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        IdleStateHandler(readTimeout: .nanoseconds(Int64(config.idleTimeout * 1e9))))
                    let handler = AdminHandler(registry: registry, config: config, logger: logger, drain: drain)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: config.listen.host, port: config.listen.port).get()
        do {
            try Self.checkToken(config.token, bound: channel.localAddress)
        } catch {
            try? await channel.close()
            throw error
        }
        listener.withLock { $0 = channel }
        let bound = channel.localAddress.flatMap { address in address.port.map { HostPort(host: address.ipAddress ?? "?", port: $0) } }
        logger.info("admin endpoint listening", metadata: ["address": "\(bound?.description ?? "?")"])
    }

    /// Stops listening and closes every admin connection (stream viewers included).
    public func shutdown() async {
        if let channel = listener.withLock({ $0 }) { try? await channel.close() }
        _ = viewers.closeAll()
    }
}
