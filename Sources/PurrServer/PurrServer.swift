import Logging
import NIOCore
import NIOPosix
import PurrCore
import Synchronization

/// The Purr server: accepts upgrade requests, routes them and relays bytes.
public final class PurrServer: Sendable {
    public let config: ServerConfig
    public let registry: StatsRegistry
    let env: ServerEnvironment
    let group: any EventLoopGroup
    let logger: Logger
    private let channels = ChannelTracker()
    private let listener = Mutex<(any Channel)?>(nil)
    /// Certificate and key when the server speaks TLS itself (reloadable).
    public let tls: ServerTLS?

    public init(config: ServerConfig, group: any EventLoopGroup, logger: Logger, tls: ServerTLS? = nil) {
        self.config = config
        self.tls = tls
        self.group = group
        self.logger = logger
        self.registry = StatsRegistry(routes: config.routes, listen: config.listen.description)
        self.env = ServerEnvironment(
            routes: RouteTable(config.routes),
            registry: registry,
            logger: logger,
            config: config
        )
    }

    /// The address actually bound (useful with port 0).
    public var localAddress: SocketAddress? { listener.withLock { $0?.localAddress } }

    /// The bound port.
    public var port: Int { localAddress?.port ?? 0 }

    /// Binds the listener. Routes are checked by now; an address in use fails here.
    public func start() async throws {
        let env = self.env
        let channels = self.channels
        let tls = self.tls
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channels.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try SocketTuning.apply(to: channel)
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler()) }
                    try UpgradeHandler.install(on: channel, env: env)
                }
            }
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptErrorHandler(logger: env.logger))
                }
            }
        let channel = try await bootstrap.bind(host: config.listen.host, port: config.listen.port).get()
        listener.withLock { $0 = channel }
        let bound = channel.localAddress?.hostPortDescription ?? config.listen.description
        registry.setListen(bound)
        logger.info("listening", metadata: ["address": "\(bound)", "routes": "\(config.routes.count)"])
        if config.routes.isEmpty {
            logger.warning("no routes configured: every request will be answered 404")
        }
    }

    /// Stops accepting, lets relays finish for up to `drainTimeout` seconds, then closes the rest.
    public func shutdown(drainTimeout: Double) async {
        if let channel = listener.withLock({ $0 }) {
            try? await channel.close()
        }
        let active = channels.count
        if active > 0 {
            logger.info("draining", metadata: ["active": "\(active)", "timeout": "\(drainTimeout)s"])
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(drainTimeout * 1000))
        while channels.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let left = channels.closeAll()
        if left > 0 { logger.notice("closed relays still open after the drain timeout", metadata: ["count": "\(left)"]) }
        // Closing is asynchronous: wait (bounded) until the closes have been counted.
        let closeDeadline = ContinuousClock.now + .seconds(2)
        while registry.activeCount > 0 && ContinuousClock.now < closeDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Accept errors (out of file descriptors, say) are logged; the listener keeps going.
final class AcceptErrorHandler: ChannelInboundHandler {
    typealias InboundIn = Channel
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason = (error as? IOError).map { ConnectFailure.describe(errno: $0.errnoCode) } ?? "\(error)"
        logger.error("accept failed", metadata: ["reason": "\(reason)"])
    }
}
