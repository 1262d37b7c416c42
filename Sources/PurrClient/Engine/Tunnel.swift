import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PurrCore
import Synchronization

/// One tunnel: its listener(s), its live connections and its counters. Open and close may be called
/// any number of times from any thread; the last call wins.
public final class Tunnel: Sendable {
    public let config: TunnelConfig
    let group: any EventLoopGroup
    let logger: Logger
    let environment: [String: String]
    let events: EventHub
    private let state = Mutex(State())
    /// This tunnel's server said it keeps bytes sent behind the request head (its last 101 did).
    private let earlyDataAccepted = Atomic<Bool>(false)
    /// TLS sessions to resume, and the handshakes counted (https:// tunnels).
    let tlsSessions: TLSSessionCache
    /// The upgrade request serialized once (a dynamic tunnel's path differs per connection: not used there).
    private let requestBytes: RequestBytes?

    enum Phase {
        case closed
        case opening(generation: Int)
        case listening(generation: Int, channels: [any Channel])
        case failed(String)
    }

    struct State {
        var phase: Phase = .closed
        var generation = 0
        var bound: [String] = []
        var proxy: ProxySettings?
        var tls: NIOSSLContext?
        /// The warm pool while listening with `pool > 0`.
        var pool: WarmPool?
        /// A reverse tunnel's held requests while open (it has no listener).
        var exposer: ReverseExposer?
        var connections: [UInt64: ClientConnection] = [:]
        var nextID: UInt64 = 1
        var total = 0
        var failed = 0
        var closedUp = 0
        var closedDown = 0
        var lastError: String?
    }

    init(config: TunnelConfig, group: any EventLoopGroup, logger: Logger, environment: [String: String], events: EventHub) {
        self.config = config
        self.group = group
        var logger = logger
        logger[metadataKey: "tunnel"] = "\(config.name)"
        self.logger = logger
        self.tlsSessions = TLSSessionCache(logger: logger)
        self.environment = environment
        self.events = events
        var template = config.upgradeRequest
        template.offersEarlyData = Self.offersEarlyData(config)
        self.requestBytes = config.mode.isDynamic ? nil : RequestBytes(template)
    }

    // MARK: Open and close

    /// Starts listening. Returns the resulting state (listening, or error with the reason).
    @discardableResult
    public func open() async -> TunnelState {
        let generation: Int? = state.withLock { state in
            switch state.phase {
            case .opening, .listening: return nil
            case .closed, .failed:
                state.generation += 1
                state.phase = .opening(generation: state.generation)
                return state.generation
            }
        }
        guard let generation else { return snapshot.state }
        events.emit(.tunnelStateChanged(name: config.name, state: .opening))
        if config.mode == .reverse { return openReverse(generation: generation) }
        do {
            let proxy = try config.effectiveProxy(environment: environment)
            var tls: NIOSSLContext?
            if config.url.scheme.usesTLS {
                tls = try ClientTLS.makeContext(caFile: config.caFile, insecure: config.insecure)
                if let tls { tlsSessions.attach(to: tls) }
                if config.insecure {
                    logger.warning("TLS certificate verification is OFF (--insecure): anyone on the path can read and change this tunnel")
                }
            }
            // A pooled tunnel runs its connections on one loop, the pool's: any of them can use any ready one.
            let pool =
                config.pool > 0 ? WarmPool(loop: group.next(), size: config.pool, refresh: config.poolRefreshAmount, logger: logger) : nil
            let channels = try await bindListeners(childLoop: pool?.loop)
            // One address per listening socket, several sockets (one per loop) per address.
            var bound: [String] = []
            for address in channels.compactMap({ $0.localAddress?.hostPortDescription }) where !bound.contains(address) {
                bound.append(address)
            }
            let kept = state.withLock { state -> Bool in
                guard case .opening(generation) = state.phase else { return false }
                state.phase = .listening(generation: generation, channels: channels)
                state.bound = bound
                state.proxy = proxy
                state.tls = tls
                state.pool = pool
                return true
            }
            guard kept else {
                // Closed while we were binding.
                for channel in channels { try? await channel.close() }
                return snapshot.state
            }
            pool?.start(dialer: ServerDialer(tunnel: config, proxy: proxy, tls: tls))
            logger.info("listening", metadata: ["address": "\(bound.joined(separator: ", "))", "url": "\(config.url.redacted)"])
            if let proxy { logger.info("using proxy", metadata: ["proxy": "\(proxy)"]) }
            events.emit(.tunnelStateChanged(name: config.name, state: .listening))
            return .listening
        } catch {
            let reason = (error as? ConfigError)?.message ?? "\(error)"
            let applied = state.withLock { state -> Bool in
                guard case .opening(generation) = state.phase else { return false }
                state.phase = .failed(reason)
                state.lastError = reason
                return true
            }
            if applied {
                logger.error("cannot open", metadata: ["reason": "\(reason)"])
                events.emit(.tunnelStateChanged(name: config.name, state: .error(reason)))
            }
            return snapshot.state
        }
    }

    /// Stops listening and closes every connection of this tunnel.
    public func close() async {
        let (channels, connections, wasOpen, pool) = state.withLock { state -> ([any Channel], [ClientConnection], Bool, WarmPool?) in
            var channels: [any Channel] = []
            if case .listening(_, let open) = state.phase { channels = open }
            let wasOpen: Bool
            switch state.phase {
            case .closed: wasOpen = false
            default: wasOpen = true
            }
            state.phase = .closed
            state.bound = []
            defer {
                state.pool = nil
                state.exposer?.stop()
                state.exposer = nil
            }
            return (channels, Array(state.connections.values), wasOpen, state.pool)
        }
        pool?.close()
        for channel in channels { try? await channel.close() }
        for connection in connections { connection.close() }
        if wasOpen {
            logger.info("closed")
            events.emit(.tunnelStateChanged(name: config.name, state: .closed))
        }
    }

    /// A reverse tunnel: no listener; `pool` held requests at the server's `[[reverse]]` path, each one
    /// the server answers relayed to `target`. Open from the start: registering, then exposed (snapshot).
    private func openReverse(generation: Int) -> TunnelState {
        guard let target = config.target else { return fail(generation, "a reverse tunnel needs a target") }
        var settings = ReverseExposer.Settings(tunnel: config, target: target, name: config.reverseName)
        settings.pool = config.pool > 0 ? config.pool : TunnelConfig.defaultReversePool
        settings.tunnel.pool = 0
        let exposer = ReverseExposer(settings: settings, group: group, logger: logger, environment: environment)
        let kept = state.withLock { state -> Bool in
            guard case .opening(generation) = state.phase else { return false }
            state.phase = .listening(generation: generation, channels: [])
            state.exposer = exposer
            return true
        }
        guard kept else { return snapshot.state }
        let name = settings.name
        do {
            try exposer.start { [logger, url = config.url] in
                logger.info("exposed", metadata: ["name": "\(name)", "url": "\(url.redacted)"])
            }
        } catch {
            exposer.stop()
            state.withLock { if $0.exposer === exposer { $0.exposer = nil } }
            return fail(generation, (error as? ConfigError)?.message ?? "\(error)")
        }
        events.emit(.tunnelStateChanged(name: config.name, state: .listening))
        return .listening
    }

    /// Marks the open of `generation` failed, unless closed or reopened meanwhile.
    private func fail(_ generation: Int, _ reason: String) -> TunnelState {
        let applied = state.withLock { state -> Bool in
            switch state.phase {
            case .opening(generation), .listening(generation, _): break
            default: return false
            }
            state.phase = .failed(reason)
            state.lastError = reason
            return true
        }
        if applied {
            logger.error("cannot open", metadata: ["reason": "\(reason)"])
            events.emit(.tunnelStateChanged(name: config.name, state: .error(reason)))
        }
        return snapshot.state
    }

    private func bindListeners(childLoop: (any EventLoop)?) async throws -> [any Channel] {
        let hosts = config.listen.bindHosts
        // With port 0 on localhost, the IPv6 side must get the port IPv4 got: retry if it is taken there.
        for attempt in 0..<5 {
            var channels: [any Channel] = []
            var port = config.listen.port
            do {
                for (index, host) in hosts.enumerated() {
                    do {
                        // A pooled tunnel accepts on its pool's loop only; otherwise every loop listens.
                        let bound = try await LoopListeners.bind(group: childLoop ?? group, host: host, port: port) {
                            self.makeBootstrap(loop: $0)
                        }
                        channels += bound
                        if port == 0 { port = bound.first?.localAddress?.port ?? 0 }
                    } catch  where index > 0 && Self.isAddressUnavailable(error) {
                        continue  // no IPv6 on this machine: IPv4 alone will do
                    }
                }
                return channels
            } catch {
                for channel in channels { try? await channel.close() }
                if attempt < 4 && config.listen.port == 0 && !channels.isEmpty { continue }
                let reason = (error as? IOError).map { ConnectFailure.describe(errno: $0.errnoCode) } ?? "\(error)"
                throw ConfigError("cannot listen on \(config.listen): \(reason)")
            }
        }
        throw ConfigError("cannot listen on \(config.listen): no free port for both 127.0.0.1 and ::1")
    }

    static func isAddressUnavailable(_ error: any Error) -> Bool {
        guard let io = error as? IOError else { return false }
        return io.errnoCode == EADDRNOTAVAIL || io.errnoCode == EAFNOSUPPORT
    }

    private func makeBootstrap(loop: any EventLoop) -> ServerBootstrap {
        // Accepted where it is served: no hand-over between threads per connection. The listener's own
        // options come from `LoopListeners`.
        ServerBootstrap(group: loop, childGroup: loop)
            // Reading on from the start: bytes the app sends with its connect are read while the server
            // connection opens and leave in the same write as the request head (early data). Its
            // tail holds them meanwhile (`RelayHandOver`), and stops reading past its limit.
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try SocketTuning.apply(to: channel, accepted: true)
                    if config.mode.isDynamic {
                        // The app names its target first; the bytes behind its request wait as any app's do.
                        try channel.pipeline.syncOperations.addHandler(makeFront())
                        try RelayHandOver.holdEarlyBytes(on: channel)
                        return
                    }
                    try RelayHandOver.holdEarlyBytes(on: channel)
                    try channel.pipeline.syncOperations.addHandler(ActiveHandler { self.accept($0) })
                }
            }
    }

    /// A dynamic tunnel's proxy protocol for one accepted connection.
    private func makeFront() -> ProxyFrontHandler {
        ProxyFrontHandler(
            mode: config.mode, credentials: config.proxyCredentials,
            onRequest: { local, request in
                guard let front = try? local.pipeline.syncOperations.handler(type: ProxyFrontHandler.self) else { return }
                self.accept(local, dynamic: (request.target, front))
            },
            onRefused: { reason in self.logger.notice("refused", metadata: ["reason": "\(reason)"]) })
    }

    // MARK: Connections

    /// One app connection: dials the tunnel's URL, or for a dynamic tunnel the URL its request filled
    /// (with the front handler that answers the app once the server did).
    private func accept(_ local: any Channel, dynamic: (target: DynamicTarget, front: ProxyFrontHandler)? = nil) {
        let peer = local.remoteAddress?.hostPortDescription ?? "?"
        let target = dynamic?.target
        let (connection, proxy, tls, pool) = state.withLock { state -> (ClientConnection, ProxySettings?, NIOSSLContext?, WarmPool?) in
            let connection = ClientConnection(
                id: state.nextID, peer: peer, local: local, tunnel: config.name, target: target?.description)
            state.nextID += 1
            state.total += 1
            state.connections[connection.id] = connection
            return (connection, state.proxy, state.tls, state.pool)
        }
        emit(connection)
        if let target, let allow = config.allow, !allow.allows(target.hostPort) {
            let words = "target \(target) is not in this tunnel's allow list"
            dynamic?.front.answer(.notAllowed(words))
            finish(connection, .failed(words))
            return
        }
        var dialer = ServerDialer(tunnel: config, proxy: proxy, tls: tls)
        dialer.request.connectionID = connection.clientID  // Purr-Connection, for the TUI's join
        if let target { dialer.request.path = target.fill(config.url.path) }
        dialer.earlyData = earlyDataPlan(for: connection)
        if target == nil { dialer.requestBytes = requestBytes }
        let front = dynamic.map { UncheckedFront($0.front) }
        let completion: @Sendable (Result<any Channel, HandshakeFailure>) -> Void = { result in
            switch result {
            case .success(let server):
                // The app's reply first: the relay writes the server's bytes behind it.
                front?.handler.answer(.connected)
                self.startRelay(connection, server: server)
            case .failure(let failure):
                self.finish(connection, .failed(failure.description))
                if let front { front.handler.answer(DialOutcome(failure)) } else { local.close(promise: nil) }
            }
        }
        if let pooled = pool?.take() {
            if connection.transition(to: .upgrading) { emit(connection) }
            dialer.send(on: pooled, completion: completion)
            return
        }
        dialer.dial(
            on: local.eventLoop,
            connected: {
                if connection.transition(to: .upgrading) { self.emit(connection) }
            },
            completion: completion
        )
    }

    /// Early data for one connection: offered to this tunnel's server; sent once it said it keeps it.
    private func earlyDataPlan(for connection: ClientConnection) -> EarlyDataPlan? {
        guard Self.offersEarlyData(config) else { return nil }
        return EarlyDataPlan(
            send: earlyDataAccepted.load(ordering: .relaxed), local: connection.local, counter: connection.bytesUp,
            learned: { accepted in self.earlyDataAccepted.store(accepted, ordering: .relaxed) })
    }

    /// Whether this tunnel's requests offer early data. Not on WebSocket: frames start only after the 101
    /// (ws:// URLs imply it).
    private static func offersEarlyData(_ config: TunnelConfig) -> Bool {
        config.earlyData && config.effectiveUpgrade == .purr
    }

    private func startRelay(_ connection: ClientConnection, server: any Channel) {
        let local = connection.local
        guard local.isActive, !connection.state.isFinished else {
            server.close(promise: nil)
            finish(connection, .closed)
            return
        }
        connection.attach(server: server)
        let idle = config.idleTimeout.map { TimeAmount.nanoseconds(Int64($0 * 1e9)) }
        let session = RelaySession(local, server, aCounter: connection.bytesUp, bCounter: connection.bytesDown, idleTimeout: idle)
        if connection.transition(to: .relaying) { emit(connection) }
        // Formatted only when the line is written: the redacted URL alone cost 1 % of a connection's CPU.
        logger.info(
            "open",
            metadata: {
                var opened: Logger.Metadata = [
                    "conn": "\(connection.id)", "peer": "\(connection.peer)", "url": "\(self.config.url.redacted)",
                ]
                if let target = connection.target { opened["target"] = "\(target)" }
                return opened
            }())
        session.start().whenSuccess { reason in
            self.finish(connection, reason.isFailure ? .failed(reason.description) : .closed, reason: reason)
        }
    }

    private func finish(_ connection: ClientConnection, _ final: ClientConnectionState, reason: CloseReason = .closed) {
        guard connection.transition(to: final) else { return }
        let up = connection.bytesUp.total
        let down = connection.bytesDown.total
        state.withLock { state in
            state.connections.removeValue(forKey: connection.id)
            state.closedUp += up
            state.closedDown += down
            if case .failed(let reason) = final {
                state.failed += 1
                state.lastError = reason
            }
        }
        // Formatted only when the line is written (swift-log evaluates metadata lazily).
        let metadata = { (reason: String) -> Logger.Metadata in
            var metadata: Logger.Metadata = [
                "conn": "\(connection.id)", "peer": "\(connection.peer)", "up": "\(up)", "down": "\(down)",
                "duration": "\(Date().timeIntervalSince(connection.started).threeDecimals)s", "reason": "\(reason)",
            ]
            if let target = connection.target { metadata["target"] = "\(target)" }
            return metadata
        }
        if case .failed(let failure) = final {
            logger.warning("failed", metadata: metadata(failure))
        } else {
            logger.info("close", metadata: metadata("\(reason)"))
        }
        emit(connection)
    }

    private func emit(_ connection: ClientConnection) {
        guard events.hasSubscribers else { return }
        events.emit(.connectionChanged(tunnel: config.name, connection: connection.snapshot))
    }

    // MARK: Reading

    public var snapshot: TunnelSnapshot {
        let (copy, live) = state.withLock { ($0, Array($0.connections.values)) }
        let pool = copy.pool?.snapshot
        let tlsCounts = tlsSessions.counts
        let connections = live.sorted { $0.id < $1.id }.map(\.snapshot)
        var reverse: ReverseSnapshot?
        var bound = copy.bound
        if let exposer = copy.exposer {
            let facts = ReverseSnapshot(
                name: exposer.settings.name, registered: exposer.isRegistered, counters: exposer.counters, lastRefusal: exposer.lastRefusal)
            reverse = facts
            bound = ["\(facts.phase == "exposed" ? "exposed as" : "registering as") \(facts.name)"]
        }
        let tunnelState: TunnelState
        switch copy.phase {
        case .closed: tunnelState = .closed
        case .opening: tunnelState = .opening
        case .listening: tunnelState = .listening
        case .failed(let reason): tunnelState = .error(reason)
        }
        var snapshot = TunnelSnapshot(
            config: config,
            state: tunnelState,
            boundAddresses: bound,
            active: connections.count,
            total: copy.total,
            failed: copy.failed,
            bytesUp: copy.closedUp + connections.reduce(0) { $0 + $1.bytesUp } + (copy.exposer?.bytes.up ?? 0),
            bytesDown: copy.closedDown + connections.reduce(0) { $0 + $1.bytesDown } + (copy.exposer?.bytes.down ?? 0),
            lastError: copy.lastError,
            connections: connections,
            pool: pool,
            tlsHandshakes: tlsCounts.handshakes,
            tlsResumed: tlsCounts.resumed
        )
        snapshot.reverse = reverse
        return snapshot
    }

}

/// The front handler, carried into the dial's completion, which runs on its channel's loop.
private struct UncheckedFront: @unchecked Sendable {
    let handler: ProxyFrontHandler
    init(_ handler: ProxyFrontHandler) { self.handler = handler }
}
