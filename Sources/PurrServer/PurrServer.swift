import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrCore
import Synchronization

/// The Purr server: accepts upgrade requests, routes them and relays bytes.
public final class PurrServer: Sendable {
    public let registry: StatsRegistry
    /// The swappable settings: each new connection takes the current snapshot once, at accept.
    let settings: SettingsHolder
    let group: any EventLoopGroup
    let logger: Logger
    private let channels = ChannelTracker()
    private let peers = PeerLimiter()
    /// The published sides of `[[reverse]]` entries.
    private let reverse = ReverseListeners()
    /// One listening socket per event loop (`LoopListeners`); the first one's address is the server's.
    private let listeners = Mutex<[any Channel]>([])
    /// Certificate and key when the server speaks TLS itself (reloadable).
    public let tls: ServerTLS?
    /// Fired by `drain()`: the process running this server starts its shutdown (`waitForDrainRequest`).
    private let drainRequested = DrainSignal()

    public init(config: ServerConfig, group: any EventLoopGroup, logger: Logger, tls: ServerTLS? = nil) {
        self.tls = tls
        self.group = group
        self.logger = logger
        self.registry = StatsRegistry(routes: config.routes, listen: config.listen.description)
        registry.reverseSlots.withLock { $0 = config.reverses.map(\.slot) }
        let env = ServerSettings(routes: RouteTable(config.routes), registry: registry, peers: peers, logger: logger, config: config)
        self.settings = SettingsHolder(env, config: config)
        Self.activateSources(of: config.routes, logger: logger)
    }

    /// Hands the server's logger to each dynamic route's source (a token file reports its bad lines).
    static func activateSources(of routes: [Route], logger: Logger) {
        for route in routes {
            if case .source(let source, _) = route.target { source.activate(logger: logger) }
        }
    }

    /// The configuration in use (the latest good load).
    public var config: ServerConfig { settings.config }

    /// The settings snapshot new connections get now.
    var env: ServerSettings { settings.current }

    /// The address actually bound (useful with port 0).
    public var localAddress: SocketAddress? { listeners.withLock { $0.first?.localAddress } }

    /// The bound port.
    public var port: Int { localAddress?.port ?? 0 }

    /// Binds the listener. Routes are checked by now; an address in use fails here.
    public func start() async throws {
        let settings = self.settings
        let channels = self.channels
        let tls = self.tls
        let makeBootstrap = { (loop: any EventLoop) in
            ServerBootstrap(group: loop, childGroup: loop)
                .childChannelInitializer { channel in
                    channels.add(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        try SocketTuning.apply(to: channel, accepted: true)
                        if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler()) }
                        try UpgradeHandler.install(on: channel, env: settings.current)
                    }
                }
        }
        let config = self.config
        UpgradeHandler.prepareTypes()
        let bound = try await LoopListeners.bind(
            group: group, host: config.listen.host, port: config.listen.port,
            setUpListener: { try $0.pipeline.syncOperations.addHandler(AcceptErrorHandler(logger: settings.current.logger)) },
            makeBootstrap: makeBootstrap)
        listeners.withLock { $0 = bound }
        try reverse.start(config.reverses, group: group, logger: logger)
        let address = bound.first?.localAddress?.hostPortDescription ?? config.listen.description
        registry.setListen(address)
        logger.info("listening", metadata: ["address": "\(address)", "routes": "\(config.routes.count)"])
        if config.routes.isEmpty {
            logger.warning("no routes configured: every request will be answered 404")
        }
    }

    /// Whether the server is draining: new upgrades get 503 with `Retry-After`, `/healthz` 503.
    public var isDraining: Bool { registry.isDraining }

    /// Starts draining (idempotent): the listeners stay open, but every new upgrade (and reverse
    /// registration) is answered `503` with `Retry-After` and `/healthz` answers 503; live relays go on.
    /// Free held reverse registrations are closed, so their exposing clients register elsewhere. Whoever
    /// waits in `waitForDrainRequest` is woken to call `shutdown(drainTimeout:)`.
    @discardableResult
    public func drain() -> DrainStart {
        drain(timeout: config.drainTimeout)
    }

    /// `timeout`: the drain timeout the caller will apply (what the log line and the answer say).
    private func drain(timeout: Double) -> DrainStart {
        let first = registry.startDraining()
        if first {
            for entry in config.reverses { entry.slot.closeHeld() }
        }
        let relays = relayChannels().count
        if first {
            logger.notice("draining: \(relays) relays live, timeout \(timeout.formatted())s")
            drainRequested.fire()
        }
        return DrainStart(already: !first, relays: relays, drainTimeout: timeout)
    }

    /// Returns once `drain()` has been called (or the task is cancelled).
    public func waitForDrainRequest() async {
        await drainRequested.wait()
    }

    /// Drains (`drain()`), waits up to `drainTimeout` seconds for the last relay to end, then closes the
    /// listeners and whatever is still open (relays past the timeout, idle pooled connections).
    public func shutdown(drainTimeout: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int(drainTimeout * 1000))
        drain(timeout: drainTimeout)
        let left = await waitForRelays(until: deadline)
        for channel in listeners.withLock({ $0 }) {
            try? await channel.close()
        }
        reverse.stop()
        _ = channels.closeAll()
        if left > 0 { logger.notice("closed relays still open after the drain timeout", metadata: ["count": "\(left)"]) }
        // Closing is asynchronous: wait (bounded) until the closes have been counted.
        _ = await registry.waitUntilIdle(timeout: .seconds(2))
        // A resolver's HTTP client keeps connections of its own: closed now, not when the server object goes.
        for route in config.routes {
            if case .source(let resolver as ResolverSource, _) = route.target { await resolver.shutdown() }
        }
    }

    /// The client channels of connections past their head: choosing or connecting a target, relaying.
    /// Not waited for: those still reading a head (a warm pool's idle connections; a head that comes now
    /// is answered 503) and reverse registrations still held (closed at drain start; not relays yet).
    private func relayChannels() -> [any Channel] {
        let registrations = Set(config.reverses.map(\.path))
        return registry.liveRecords.compactMap { record in
            let (state, path) = record.mutable.withLock { ($0.state, $0.routeSettings?.path) }
            let held = state == .connecting && path.map(registrations.contains) == true
            guard state == .relaying || (state == .connecting && !held), let channel = record.channel else { return nil }
            // Closed but not yet counted as such: not waited for (else the wait below would spin on it).
            return channel.isActive ? channel : nil
        }
    }

    /// Waits, woken by closes and never by looking again and again, until no relay is left or the
    /// deadline passes; returns how many are left.
    private func waitForRelays(until deadline: ContinuousClock.Instant) async -> Int {
        while true {
            let relays = relayChannels()
            let now = ContinuousClock.now
            if relays.isEmpty || now >= deadline { return relays.count }
            // A connection routed just as the drain began may be missed by this look: the next one finds it.
            let tracker = ChannelTracker()
            for channel in relays { tracker.add(channel) }
            _ = await tracker.waitUntilEmpty(timeout: deadline - now)
        }
    }
}

// MARK: Reload

extension PurrServer {
    /// Applies a new configuration to connections accepted from now on; relays already up keep going
    /// (unless `dropRemoved`, for those whose route went away). Throws, changing nothing, when the new
    /// configuration cannot be applied while running.
    @discardableResult
    public func reload(to new: ServerConfig) throws(ConfigError) -> ReloadOutcome {
        let old = settings.config
        var applied = new
        var notes: [String] = []
        if new.listen != old.listen {
            notes.append("listen address \(new.listen) takes effect at the next restart (still on \(old.listen))")
            applied.listen = old.listen
        }
        if new.threads != old.threads {
            let now = old.threads.map { "\($0)" } ?? "one per core"
            notes.append("threads = \(new.threads.map { "\($0)" } ?? "one per core") takes effect at the next restart (still \(now))")
            applied.threads = old.threads
        }
        if let note = ReverseListeners.keep(old, in: &applied) { notes.append(note) }
        switch (tls, new.tlsCertificate, new.tlsKey) {
        case (nil, nil, _):
            break
        case (nil, .some, _):
            throw ConfigError("tls_cert: turning TLS on needs a restart")
        case (.some, nil, _), (.some, .some, nil):
            throw ConfigError("tls_cert: turning TLS off needs a restart")
        case (.some(let tls), .some(let certificate), .some(let key)):
            // The last step that can fail: nothing has changed before it.
            try tls.reload(certificatePath: certificate, keyPath: key)
        }
        registry.updateRoutes(applied.routes)
        Self.activateSources(of: applied.routes, logger: logger)
        let generation = settings.current.generation + 1
        let snapshot = ServerSettings(
            routes: RouteTable(applied.routes), registry: registry, peers: peers, logger: logger, config: applied, generation: generation)
        settings.replace(with: snapshot, config: applied)
        registry.configLoaded(generation: generation)
        let dropped = applied.dropRemoved ? registry.closeRelays(lostIn: snapshot.routes) : 0
        return ReloadOutcome(
            generation: generation, routes: applied.routes.count, droppedRelays: dropped, certificate: tls?.certificatePath, notes: notes)
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
