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
    /// TLS sessions to resume, and the handshakes counted (https:// tunnels).
    let tlsSessions: TLSSessionCache
    /// Each server of the list (one on most tunnels): its settings, request bytes and early-data answer.
    private let runtimes: [ServerRuntime]

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
        /// Per server while listening: proxy, TLS and (with `pool > 0`) its warm pool.
        var servers: [OpenedServer] = []
        /// Several servers: their health and the choice per connection; nil with one server.
        var health: ServerSet?
        /// Several servers: the timer that probes the ones that are out.
        var probeTimer: RepeatedTask?
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
        self.runtimes = (0..<config.serverCount).map {
            let server = config.forServer($0)
            return ServerRuntime(index: $0, config: server, offersEarlyData: Self.offersEarlyData(server))
        }
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
            // A pooled tunnel runs its connections on one loop, its pools': any of them can use any ready one.
            let poolLoop = config.pool > 0 ? group.next() : nil
            let servers = try openServers(poolLoop: poolLoop)
            let channels = try await bindListeners(childLoop: poolLoop)
            // One address per listening socket, several sockets (one per loop) per address.
            var bound: [String] = []
            for address in channels.compactMap({ $0.localAddress?.hostPortDescription }) where !bound.contains(address) {
                bound.append(address)
            }
            let kept = state.withLock { state -> Bool in
                guard case .opening(generation) = state.phase else { return false }
                state.phase = .listening(generation: generation, channels: channels)
                state.bound = bound
                state.servers = servers
                if runtimes.count > 1 {
                    state.health = ServerSet(count: runtimes.count, choice: config.serverChoice)
                    state.probeTimer = startProbing()
                }
                return true
            }
            guard kept else {
                // Closed while we were binding.
                for channel in channels { try? await channel.close() }
                return snapshot.state
            }
            for opened in servers {
                opened.pool?.start(dialer: opened.dialer)
            }
            let urls = runtimes.map(\.config.url.redacted).joined(separator: ", ")
            var listening: Logger.Metadata = ["address": "\(bound.joined(separator: ", "))", "url": "\(urls)"]
            if runtimes.count > 1 { listening["servers"] = "\(config.serverChoice.rawValue)" }
            logger.info("listening", metadata: listening)
            for (runtime, opened) in zip(runtimes, servers) {
                guard let proxy = opened.proxy else { continue }
                logger.info("using proxy", metadata: ["proxy": "\(proxy)", "url": "\(runtime.config.url.redacted)"])
            }
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

    /// Each server's proxy, TLS context and warm pool (not started).
    private func openServers(poolLoop: (any EventLoop)?) throws -> [OpenedServer] {
        var servers: [OpenedServer] = []
        for runtime in runtimes {
            let server = runtime.config
            var opened: OpenedServer
            do {
                let proxy = try server.effectiveProxy(environment: environment)
                var tls: NIOSSLContext?
                if server.url.scheme.usesTLS {
                    tls = try ClientTLS.makeContext(caFile: server.caFile, insecure: server.insecure)
                    if let tls { tlsSessions.attach(to: tls) }
                }
                opened = OpenedServer(runtime: runtime, proxy: proxy, tls: tls)
            } catch {
                guard runtimes.count > 1 else { throw error }
                let words = error.message
                throw ConfigError("server \(runtime.index + 1) (\(server.url.redacted)): \(words)")
            }
            if let poolLoop {
                var poolLogger = logger
                if runtimes.count > 1 { poolLogger[metadataKey: "server"] = "\(runtime.index + 1)" }
                opened.pool = WarmPool(loop: poolLoop, size: config.pool, refresh: config.poolRefreshAmount, logger: poolLogger)
            }
            servers.append(opened)
        }
        if config.insecure && servers.contains(where: { $0.tls != nil }) {
            logger.warning("TLS certificate verification is OFF (--insecure): anyone on the path can read and change this tunnel")
        }
        return servers
    }

    /// Stops listening and closes every connection of this tunnel.
    public func close() async {
        let (channels, connections, wasOpen, pools) = state.withLock { state -> ([any Channel], [ClientConnection], Bool, [WarmPool]) in
            var channels: [any Channel] = []
            if case .listening(_, let open) = state.phase { channels = open }
            let wasOpen: Bool
            switch state.phase {
            case .closed: wasOpen = false
            default: wasOpen = true
            }
            state.phase = .closed
            state.bound = []
            let pools = state.servers.compactMap(\.pool)
            defer {
                state.servers = []
                state.health = nil
                state.probeTimer?.cancel()
                state.probeTimer = nil
                state.exposer?.stop()
                state.exposer = nil
            }
            return (channels, Array(state.connections.values), wasOpen, pools)
        }
        for pool in pools { pool.close() }
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
                    // Dialed once the channel is active (a dial started from here could finish before it is).
                    try RelayHandOver.holdEarlyBytes(on: channel) { self.accept($0) }
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
    /// (with the front handler that answers the app once the server did). With several servers, the
    /// first attempt goes to the server `ServerSet` picks, and a failure before the 101 to the next one.
    private func accept(_ local: any Channel, dynamic: (target: DynamicTarget, front: ProxyFrontHandler)? = nil) {
        let peer = local.remoteAddress?.hostPortDescription ?? "?"
        let target = dynamic?.target
        let (connection, opened, several) = state.withLock { state -> (ClientConnection, OpenedServer?, Bool) in
            let connection = ClientConnection(
                id: state.nextID, peer: peer, local: local, tunnel: config.name, target: target?.description)
            state.nextID += 1
            state.total += 1
            state.connections[connection.id] = connection
            return (connection, state.servers.first, state.health != nil)
        }
        emit(connection)
        if let target, let allow = config.allow, !allow.allows(target.hostPort) {
            let words = "target \(target) is not in this tunnel's allow list"
            dynamic?.front.answer(.notAllowed(words))
            finish(connection, .failed(words))
            return
        }
        let front = dynamic.map { UncheckedFront($0.front) }
        if several {
            // Keep what goes out early until the 101: a server that refuses before it costs the app nothing.
            RelayHandOver.keepForwardedEarlyBytes(on: local)
            attempt(connection, target: target, front: front, tried: 0, reasons: [])
            return
        }
        guard let opened else {
            finish(connection, .failed("the tunnel is closed"))
            local.close(promise: nil)
            return
        }
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
        dial(connection, runtime: runtimes[0], opened: opened, target: target, completion: completion)
    }

    /// One try of a connection on a tunnel with several servers: the server the set picks (none left:
    /// the connection fails with every server's reason in one line).
    private func attempt(
        _ connection: ClientConnection, target: DynamicTarget?, front: UncheckedFront?, tried: UInt32, reasons: [String],
        last: HandshakeFailure? = nil
    ) {
        let local = connection.local
        let startedAt = Self.now()
        let picked = state.withLock { state -> (Int, OpenedServer)? in
            guard let index = state.health?.pick(tried: tried, now: startedAt), index < state.servers.count else { return nil }
            return (index, state.servers[index])
        }
        guard let (index, opened) = picked else {
            let words = reasons.isEmpty ? "the tunnel is closed" : "every server failed: \(reasons.joined(separator: "; "))"
            finish(connection, .failed(words))
            // A dynamic tunnel's app hears the last server's failure.
            let failure = last.map { HandshakeFailure(kind: $0.kind, status: $0.status, reason: $0.reason, detail: $0.detail, words) }
            if let front {
                front.handler.answer(DialOutcome(failure ?? HandshakeFailure(kind: .connect, words)))
            } else {
                local.close(promise: nil)
            }
            return
        }
        let runtime = runtimes[index]
        let started = NIODeadline.now()
        dial(connection, runtime: runtime, opened: opened, target: target) { result in
            switch result {
            case .success(let server):
                let seconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
                let action = self.state.withLock { $0.health?.connected(index, seconds: seconds, startedAt: startedAt) } ?? .none
                self.perform(action)
                connection.server = index
                front?.handler.answer(.connected)
                self.startRelay(connection, server: server)
            case .failure(let failure) where !local.isActive:
                // The app left (closed or reset) while it waited: nothing to say about the server.
                self.state.withLock { $0.health?.abandoned(index, startedAt: startedAt) }
                self.finish(connection, .failed("the app left before the server answered"))
                front?.handler.answer(DialOutcome(failure))
            case .failure(let failure):
                // The early bytes this server got go back in front, for the next one.
                let rewound = RelayHandOver.rewindEarlyBytes(on: local)
                connection.bytesUp.add(-rewound)
                let sentEarly = rewound > 0
                var random = SystemRandomNumberGenerator()
                let now = Self.now()
                let (verdict, action) =
                    self.state.withLock {
                        $0.health?.failed(index, failure, sentEarly: sentEarly, startedAt: startedAt, now: now, random: &random)
                    }
                    ?? (.answer, .none)
                self.perform(action)
                let url = runtime.config.url.redacted
                // An answer is final; so is an app that left meanwhile.
                if verdict == .answer || connection.state.isFinished || !local.isActive {
                    self.finish(connection, .failed(failure.description))
                    if let front { front.handler.answer(DialOutcome(failure)) } else { local.close(promise: nil) }
                    return
                }
                // The last server's failure is in the line that lists them all.
                let tried = tried | (1 << index)
                let untried = tried != (UInt32(1) << self.runtimes.count) - 1
                if untried {
                    self.logger.notice(
                        "trying the next server",
                        metadata: ["conn": "\(connection.id)", "url": "\(url)", "reason": "\(failure.description)"])
                }
                self.attempt(
                    connection, target: target, front: front, tried: tried,
                    reasons: reasons + ["\(url): \(failure.description)"], last: failure)
            }
        }
    }

    /// Dials one server for `connection` (from its warm pool when one is ready).
    private func dial(
        _ connection: ClientConnection, runtime: ServerRuntime, opened: OpenedServer, target: DynamicTarget?,
        completion: @escaping @Sendable (Result<any Channel, HandshakeFailure>) -> Void
    ) {
        var dialer = opened.dialer
        dialer.request.connectionID = connection.clientID  // Purr-Connection, for the TUI's join
        if let target { dialer.request.path = target.fill(runtime.config.url.path) }
        dialer.earlyData = earlyDataPlan(for: connection, runtime: runtime)
        if target == nil { dialer.requestBytes = runtime.requestBytes }
        // Several servers: an app that leaves ends its attempt at once (one server: as before).
        if runtimes.count > 1 {
            dialer.abandon = connection.local.closeFuture.flatMapThrowing { _ in
                switch connection.state {
                case .connecting, .upgrading: return
                default: throw ChannelError.alreadyClosed  // the relay's end, not an abandoned attempt
                }
            }
        }
        if let pooled = opened.pool?.take() {
            if connection.transition(to: .upgrading) { emit(connection) }
            dialer.send(on: pooled, completion: completion)
            return
        }
        dialer.dial(
            on: connection.local.eventLoop,
            connected: {
                if connection.transition(to: .upgrading) { self.emit(connection) }
            },
            completion: completion
        )
    }

    /// Pauses or resumes a server's warm pool, as its health says.
    private func perform(_ action: ServerSet.Action) {
        switch action {
        case .none:
            return
        case .pausePool(let index):
            let (opened, server) = state.withLock { state in
                (state.servers.indices.contains(index) ? state.servers[index] : nil, state.health?.servers[index])
            }
            opened?.pool?.close()
            logger.warning(
                server?.health == .draining ? "server draining" : "server down",
                metadata: ["url": "\(runtimes[index].config.url.redacted)", "reason": "\(server?.lastError ?? "?")"])
        case .resumePool(let index):
            let opened = state.withLock { $0.servers.indices.contains(index) ? $0.servers[index] : nil }
            if let opened, let pool = opened.pool {
                pool.start(dialer: opened.dialer)
            }
            logger.notice("server up", metadata: ["url": "\(runtimes[index].config.url.redacted)"])
        }
    }

    /// Several servers: every half second, probes the servers whose pause is over.
    private func startProbing() -> RepeatedTask {
        group.next().scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { [weak self] _ in
            self?.probeDue()
        }
    }

    private func probeDue() {
        let now = Self.now()
        let due = state.withLock { state -> [(Int, OpenedServer)] in
            guard let indices = state.health?.probesDue(now: now) else { return [] }
            return indices.compactMap { state.servers.indices.contains($0) ? ($0, state.servers[$0]) : nil }
        }
        for (index, opened) in due {
            let runtime = runtimes[index]
            let probe = ServerProbe.run(opened.dialer, host: runtime.config.url.hostHeader, on: group.next(), timeout: .seconds(5))
            probe.whenSuccess { result in
                var random = SystemRandomNumberGenerator()
                let now = Self.now()
                let action = self.state.withLock { $0.health?.probed(index, result, now: now, random: &random) } ?? .none
                self.logger.debug("probe", metadata: ["url": "\(runtime.config.url.redacted)", "result": "\(result)"])
                self.perform(action)
            }
        }
    }

    /// Seconds on a steady clock (the server set's time).
    static func now() -> Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    /// Early data for one connection: offered to this server; sent once it said it keeps it.
    private func earlyDataPlan(for connection: ClientConnection, runtime: ServerRuntime) -> EarlyDataPlan? {
        guard Self.offersEarlyData(runtime.config) else { return nil }
        return EarlyDataPlan(
            send: runtime.earlyDataAccepted.load(ordering: .relaxed), local: connection.local, counter: connection.bytesUp,
            learned: { accepted in runtime.earlyDataAccepted.store(accepted, ordering: .relaxed) })
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
            release(connection)
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
                    "conn": "\(connection.id)", "peer": "\(connection.peer)",
                    "url": "\(self.runtimes[self.runtimes.count > 1 ? connection.server ?? 0 : 0].config.url.redacted)",
                ]
                if let target = connection.target { opened["target"] = "\(target)" }
                return opened
            }())
        session.start().whenSuccess { reason in
            self.finish(connection, reason.isFailure ? .failed(reason.description) : .closed, reason: reason)
        }
    }

    /// Several servers: gives back the count a connection held on its server.
    private func release(_ connection: ClientConnection) {
        guard let index = connection.releaseServer() else { return }
        state.withLock { $0.health?.ended(index) }
    }

    private func finish(_ connection: ClientConnection, _ final: ClientConnectionState, reason: CloseReason = .closed) {
        guard connection.transition(to: final) else { return }
        let up = connection.bytesUp.total
        let down = connection.bytesDown.total
        let server = runtimes.count > 1 ? connection.releaseServer() : nil
        state.withLock { state in
            if let server { state.health?.ended(server) }
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
            if let server { metadata["url"] = "\(self.runtimes[server].config.url.redacted)" }
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
        let pool = copy.servers.compactMap(\.pool?.snapshot).reduce(nil) { sum, next in sum.map { $0.adding(next) } ?? next }
        let servers = copy.health?.snapshot(urls: runtimes.map(\.config.url), now: Self.now(), date: Date()) ?? []
        let tlsCounts = tlsSessions.counts
        // A reverse tunnel's published connections are its connections too (joined by id like the others).
        let reverseNow = copy.exposer?.relaysNow
        let connections = live.sorted { $0.id < $1.id }.map(\.snapshot) + (reverseNow?.live ?? [])
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
            bytesUp: copy.closedUp + connections.reduce(0) { $0 + $1.bytesUp } + (reverseNow?.closed.up ?? 0),
            bytesDown: copy.closedDown + connections.reduce(0) { $0 + $1.bytesDown } + (reverseNow?.closed.down ?? 0),
            lastError: copy.lastError,
            connections: connections,
            pool: pool,
            tlsHandshakes: tlsCounts.handshakes,
            tlsResumed: tlsCounts.resumed
        )
        snapshot.reverse = reverse
        snapshot.servers = servers
        return snapshot
    }

}

/// The front handler, carried into the dial's completion, which runs on its channel's loop.
private struct UncheckedFront: @unchecked Sendable {
    let handler: ProxyFrontHandler
    init(_ handler: ProxyFrontHandler) { self.handler = handler }
}
