import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PurrCore
import Synchronization

/// `purr expose`: keeps `pool` upgrade requests to a server's `[[reverse]]` path open and unanswered
/// (`Purr-Reverse: NAME`). The server answers one with 101 when a connection arrives at its published
/// side; this side then dials the local target, relays, and at once opens another held request.
///
/// Registered: the server refuses a bad registration at once (unknown name, token, taken, limits) and
/// answers nothing to a good one until it is used, so a held request still open `registeredAfter`
/// seconds after its connection came up counts as registered. (No interim answer: HTTP/1.1 proxies pass a
/// request that simply waits, and some drop a `1xx` they do not know.) A held request is refreshed
/// (closed and reopened) every `refresh` seconds, before a proxy's or the server's idle timeout would cut
/// it; failures reconnect with doubling delays and jitter.
public final class ReverseExposer: Sendable {
    public struct Settings: Sendable {
        /// The server URL (the entry's `path`), token, proxy, TLS and WebSocket choice.
        public var tunnel: TunnelConfig
        /// The local service published through the server.
        public var target: HostPort
        /// The `[[reverse]]` name; by default the URL path's last part.
        public var name: String
        public var pool = 4
        /// Seconds a held request stays open before it is replaced.
        public var refresh = 50.0
        public var registeredAfter = 0.5

        public init(tunnel: TunnelConfig, target: HostPort, name: String? = nil) {
            self.tunnel = tunnel
            self.target = target
            self.name = name ?? String(tunnel.url.path.split(separator: "/").last ?? "")
        }
    }

    /// Counts for logs and tests.
    public struct Counters: Sendable, Equatable {
        public var held = 0
        public var active = 0
        public var served = 0
        public var targetFailures = 0
        public var refusals = 0

        public init() {}
    }

    let settings: Settings
    /// Bytes of the relays that ended: read from the server (the published side) and from the target.
    private let closed = Mutex<(fromServer: Int, fromTarget: Int)>((0, 0))
    /// The relays running now, by id; ids are numbered per exposer and sent with each held request.
    private let relays = Mutex<(live: [UInt64: ReverseRelay], next: UInt64)>(([:], 1))
    let group: any EventLoopGroup
    let logger: Logger
    let environment: [String: String]
    /// The held requests waiting for their answer, closed by `stop`.
    let held = HeldChannels()
    /// Sent with every held request, so the server counts this process's requests as one client.
    let clientID = "purr-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    private let gaveUp = Mutex<(@Sendable (String) -> Void)?>(nil)
    private let state = Mutex<(counters: Counters, stopped: Bool, registered: Bool, lastRefusal: String?)>((Counters(), false, false, nil))

    public init(
        settings: Settings, group: any EventLoopGroup, logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.settings = settings
        self.group = group
        self.logger = logger
        self.environment = environment
    }

    public var counters: Counters { state.withLock { $0.counters } }
    /// Bytes relayed so far, live ones included: sent to the server (from the target) and received from it.
    public var bytes: (up: Int, down: Int) {
        let now = relaysNow
        return now.live.reduce(now.closed) { ($0.up + $1.bytesUp, $0.down + $1.bytesDown) }
    }

    /// In one step: the bytes of the relays that ended, and the published connections relaying now as
    /// connection snapshots (peer `← NAME`, target the local service). A relay is in exactly one of them.
    public var relaysNow: (closed: (up: Int, down: Int), live: [ConnectionSnapshot]) {
        let (ended, live) = relays.withLock { relays in (closed.withLock { $0 }, Array(relays.live.values)) }
        return ((ended.fromTarget, ended.fromServer), live.sorted { $0.id < $1.id }.map(\.snapshot))
    }

    /// The id of the next held request: sent as its `Purr-Connection`, the relay's id if it is used.
    func nextConnectionNumber() -> UInt64 {
        relays.withLock { relays in
            defer { relays.next += 1 }
            return relays.next
        }
    }

    func relayStarted(_ relay: ReverseRelay) {
        relays.withLock { $0.live[relay.id] = relay }
    }

    func relayEnded(_ relay: ReverseRelay) {
        // Counted as closed in the same step it leaves the live ones: a snapshot never sees it twice or not at all.
        relays.withLock { relays in
            relays.live.removeValue(forKey: relay.id)
            closed.withLock {
                $0.fromServer += relay.fromServer.total
                $0.fromTarget += relay.fromTarget.total
            }
        }
    }
    public var isRegistered: Bool { state.withLock { $0.registered } }
    /// The last refusal's words (a bad token, an unknown name): what a user needs when nothing registers.
    public var lastRefusal: String? { state.withLock { $0.lastRefusal } }

    /// Starts `pool` held requests; `registered` is called once, when the first is taken as registered;
    /// `gaveUp` once, with the server's words, when it refused in a way retrying cannot change (a wrong
    /// token, an unknown name, a request it calls malformed): the exposer has stopped by then.
    public func start(registered: @escaping @Sendable () -> Void = {}, gaveUp: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.gaveUp.withLock { $0 = gaveUp }
        var dialer = ServerDialer(tunnel: settings.tunnel, proxy: try settings.tunnel.effectiveProxy(environment: environment), tls: nil)
        if settings.tunnel.url.scheme.usesTLS {
            let context = try ClientTLS.makeContext(caFile: settings.tunnel.caFile, insecure: settings.tunnel.insecure)
            dialer.tls = (context, settings.tunnel.url.host)
        }
        dialer.request.extraHeaders += [(ReverseHeaders.name, settings.name), (ReverseHeaders.client, clientID)]
        dialer.handshakeTimeout = .nanoseconds(Int64(settings.refresh * 1e9))
        for _ in 0..<settings.pool {
            let slot = HeldSlot(exposer: self, dialer: dialer, loop: group.next(), registered: registered)
            slot.open()
        }
    }

    /// How long a refreshed held request stays open beside its replacement.
    static func overlap(_ refresh: Double) -> Double { min(5, refresh * 0.2) }

    /// Stops opening held requests and closes those waiting, so the server releases the name at once
    /// (relays already running go on to their end).
    public func stop() {
        state.withLock { $0.stopped = true }
        held.closeAll()
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    func update(_ change: (inout Counters) -> Void) {
        state.withLock { change(&$0.counters) }
    }

    /// The first held request taken as registered: true once.
    func markRegistered() -> Bool {
        state.withLock { state in
            defer { state.registered = true }
            return !state.registered
        }
    }

    /// A refusal that retrying cannot change: 400 (the server cannot read the registration), 401 (the
    /// token), 403, 404 (no such name), or a request this side will not send. 409 (another client holds the
    /// name) and 503 (limits) may pass, and are retried.
    static func isPermanent(_ failure: HandshakeFailure) -> Bool {
        switch failure.kind {
        case .local: return true
        case .refused: return [400, 401, 403, 404].contains(failure.status ?? 0)
        default: return false
        }
    }

    /// Stops for good and says why, once (every held request may be refused the same way).
    func giveUp(_ why: String) {
        stop()
        let callback = gaveUp.withLock { callback -> (@Sendable (String) -> Void)? in
            defer { callback = nil }
            return callback
        }
        callback?(why)
    }

    /// Counts a refusal; true when it says something new (the last one said otherwise): every held
    /// request of a draining server is refused the same way, and one line says it.
    @discardableResult
    func refused(_ why: String) -> Bool {
        state.withLock {
            let new = $0.lastRefusal != why || $0.registered
            $0.registered = false
            $0.lastRefusal = why
            $0.counters.refusals += 1
            return new
        }
    }
}

/// The header names of a registration (the server's `ReverseWire`).
enum ReverseHeaders {
    static let name = "Purr-Reverse"
    static let client = "Purr-Reverse-Client"
}

/// One of the exposer's `pool` places: one held request at a time, reopened as soon as it is used,
/// refreshed, or (after a delay) lost.
final class HeldSlot: @unchecked Sendable {
    let exposer: ReverseExposer
    let dialer: ServerDialer
    let loop: any EventLoop
    let registered: @Sendable () -> Void
    /// Loop-confined.
    private var backoff = Backoff(initial: 0.25, cap: 15)
    private var attempt = 0

    init(exposer: ReverseExposer, dialer: ServerDialer, loop: any EventLoop, registered: @escaping @Sendable () -> Void) {
        self.exposer = exposer
        self.dialer = dialer
        self.loop = loop
        self.registered = registered
    }

    func open() {
        loop.execute { self.dial() }
    }

    private func dial() {
        guard !exposer.isStopped else { return }
        attempt += 1
        let current = attempt
        exposer.update { $0.held += 1 }
        // Each held request carries its own connection id: the server's record of it is the relay's.
        let number = exposer.nextConnectionNumber()
        var dialer = self.dialer
        dialer.request.connectionID = ClientInstance.connectionID(tunnel: exposer.settings.tunnel.name, number: number)
        var settled = false
        // The replacement opens a little before this one ends at `refresh` (its handshake timeout), so a
        // client's held requests never all close at once: that would release its name.
        let refresh = exposer.settings.refresh
        loop.scheduleTask(in: .nanoseconds(Int64((refresh - ReverseExposer.overlap(refresh)) * 1e9))) {
            if !settled, current == self.attempt { self.dial() }
        }
        dialer.dialHeld(
            on: loop, tracking: exposer.held,
            connected: {
                self.loop.scheduleTask(in: .nanoseconds(Int64(self.exposer.settings.registeredAfter * 1e9))) {
                    guard !settled else { return }
                    self.backoff.reset()
                    if self.exposer.markRegistered() { self.registered() }
                }
            },
            completion: { result in
                self.loop.execute {
                    settled = true
                    self.exposer.update { $0.held -= 1 }
                    let replaced = current != self.attempt
                    // Stopped: whatever the answer, nothing is served or reopened.
                    if self.exposer.isStopped, case .failure = result { return }
                    switch result {
                    case .success(let channel):
                        // Stopped (the tunnel closed): a held request still open is not served, so the
                        // published connection behind it ends instead of reaching the target.
                        guard !self.exposer.isStopped else { return channel.close(promise: nil) }
                        if !replaced { self.dial() }  // the next held request first: a burst needs them back at once
                        self.serve(channel, number: number, clientID: dialer.request.connectionID ?? "")
                    case .failure(let failure) where failure.kind == .timeout:
                        if !replaced { self.dial() }  // refreshed (normally the replacement is open already)
                    case .failure(let failure):
                        if !replaced { self.lost(failure) }
                    }
                }
            })
    }

    private func lost(_ failure: HandshakeFailure) {
        var delay = backoff.next()
        // A server that said when to come back (a draining one's 503) is not asked again sooner.
        if let retryAfter = failure.retryAfter { delay = max(delay, Double(retryAfter)) }
        if ReverseExposer.isPermanent(failure) {
            exposer.refused(failure.description)
            exposer.giveUp(failure.description)
        } else if failure.kind == .refused {
            var metadata: Logger.Metadata = [
                "reverse": "\(exposer.settings.name)", "reason": "\(failure)", "retry": "\(delay.threeDecimals)s",
            ]
            if exposer.refused(failure.description) {
                exposer.logger.error("registration refused", metadata: metadata)
            } else {
                metadata["repeated"] = "true"
                exposer.logger.debug("registration refused", metadata: metadata)
            }
        } else {
            exposer.logger.notice(
                "held request lost",
                metadata: ["reverse": "\(exposer.settings.name)", "reason": "\(failure)", "retry": "\(delay.threeDecimals)s"])
        }
        loop.scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) { self.dial() }
    }

    /// The server answered 101: a published connection is behind it. Dial the local target and relay.
    private func serve(_ server: any Channel, number: UInt64, clientID: String) {
        let target = exposer.settings.target
        let logger = exposer.logger
        exposer.update { $0.active += 1 }
        let relay = ReverseRelay(id: number, clientID: clientID, name: exposer.settings.name, target: target.description)
        ClientBootstrap(group: server.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
                    try SocketTuning.apply(to: channel)
                    try RelayHandOver.holdEarlyBytes(on: channel)
                }
            }
            .connectTimeout(.seconds(10))
            .connect(to: target)
            .whenComplete { result in
                switch result {
                case .success(let local):
                    let session = RelaySession(server, local, aCounter: relay.fromServer, bCounter: relay.fromTarget)
                    self.exposer.relayStarted(relay)
                    session.start().whenComplete { _ in
                        self.exposer.relayEnded(relay)
                        self.exposer.update {
                            $0.active -= 1
                            $0.served += 1
                        }
                    }
                case .failure(let error):
                    logger.error(
                        "local target unreachable", metadata: ["target": "\(target)", "reason": "\(ConnectFailure.describe(error))"])
                    self.exposer.update {
                        $0.active -= 1
                        $0.targetFailures += 1
                    }
                    server.close(promise: nil)
                }
            }
    }
}
