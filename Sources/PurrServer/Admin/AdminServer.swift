import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PurrCore
import Synchronization

/// The admin endpoint: health, stats JSON, a live event stream and Prometheus metrics over HTTP/1.1.
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

    public init(config: AdminConfig, registry: StatsRegistry, group: any EventLoopGroup, logger: Logger, tls: ServerTLS? = nil) {
        self.current = Mutex(config)
        self.tls = tls
        self.registry = registry
        self.group = group
        self.logger = logger
    }

    public var config: AdminConfig { current.withLock { $0 } }

    /// Takes a reloaded `[admin]`: the token applies to new admin connections at once; an address or
    /// TLS change waits for a restart (returned as notes for the log).
    public func reload(to new: AdminConfig) -> [String] {
        current.withLock { config in
            var notes: [String] = []
            if new.listen != config.listen {
                notes.append("admin address \(new.listen) takes effect at the next restart (still on \(config.listen))")
            }
            if new.tls != config.tls { notes.append("admin.tls takes effect at the next restart") }
            config.token = new.token
            config.viewerBacklogLimit = new.viewerBacklogLimit
            return notes
        }
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
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { AcceptPauseHandler.install(on: $0) }
            .childChannelInitializer { channel in
                viewers.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler()) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(registry: registry, config: server.config, logger: logger))
                }
            }
            .bind(host: config.listen.host, port: config.listen.port).get()
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
