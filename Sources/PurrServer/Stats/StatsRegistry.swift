import Foundation
import NIOCore
import PurrCore
import Synchronization

/// The one place the server's counters live. Opening and closing take a short lock;
/// relayed bytes go to per-connection atomics, so reading a snapshot never slows the relay.
public final class StatsRegistry: Sendable {
    public static let version = PurrVersion.current

    public let started = Date()
    private let startedClock = ContinuousClock.now
    private let state: Mutex<State>
    /// Who waits for the last live connection to end (a shutdown).
    private let idleWaiters = EmptyWaiters()
    /// The `[[reverse]]` names' live state, for `/metrics` (`ReverseMetrics`).
    let reverseSlots = Mutex<[ReverseSlot]>([])
    /// Draining: new upgrades get 503 (`PurrServer.drain`); shown as `server.draining`.
    private let drainingFlag = Atomic<Bool>(false)

    struct RouteCounters {
        var path: String
        var target: String
        var active = 0
        var total = 0
        var closedIn = 0
        var closedOut = 0
        var failures: [String: Int] = [:]
    }

    struct State {
        var listen: String
        var nextID: UInt64 = 1
        var live: [UInt64: ConnectionRecord] = [:]
        var routes: [String: RouteCounters] = [:]
        var routeOrder: [String] = []
        var total = 0
        var closedIn = 0
        var closedOut = 0
        var failures: [String: Int] = [:]
        var nextObserver: UInt64 = 1
        var observers: [UInt64: @Sendable (ConnectionEvent) -> Void] = [:]
        var config = StatsSnapshot.ConfigStatus(generation: 1, loaded: Date(), reloadsOk: 0, reloadsFailed: 0)
    }

    public init(routes: [Route], listen: String) {
        var initial = State(listen: listen)
        for route in routes {
            let key = Self.key(for: route)
            initial.routes[key] = RouteCounters(path: key, target: route.target.description)
            initial.routeOrder.append(key)
        }
        state = Mutex(initial)
    }

    static func key(for route: Route) -> String {
        route.host.map { "\($0)\(route.path)" } ?? route.path
    }

    public func setListen(_ listen: String) {
        state.withLock { $0.listen = listen }
    }

    public var uptime: Double {
        let elapsed = ContinuousClock.now - startedClock
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Live connections, in any state.
    public var activeCount: Int { state.withLock { $0.live.count } }

    /// True once no connection is live, false when `timeout` passes first.
    func waitUntilIdle(timeout: Duration) async -> Bool {
        await idleWaiters.wait(timeout: timeout) { self.activeCount == 0 }
    }

    /// Whether the server is draining (read once per request head).
    public var isDraining: Bool { drainingFlag.load(ordering: .relaxed) }

    /// Sets the draining flag; true the first time only.
    func startDraining() -> Bool {
        drainingFlag.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    }

    /// The connections live now, in any state (the drain picks the relays among them).
    var liveRecords: [ConnectionRecord] { state.withLock { Array($0.live.values) } }

    // MARK: Connection lifecycle (called by the upgrade handler)

    func open(peer: String, channel: (any Channel)? = nil) -> ConnectionRecord {
        state.withLock { state in
            let record = ConnectionRecord(id: state.nextID, peer: peer, started: Date(), channel: channel)
            state.nextID += 1
            state.live[record.id] = record
            state.total += 1
            return record
        }
    }

    /// Counts a connection against its route; returns the route's open connections, this one included.
    @discardableResult
    func routed(_ record: ConnectionRecord, to route: Route) -> Int {
        let key = Self.key(for: route)
        record.mutable.withLock {
            $0.route = key
            // A dynamic route's connection gets its target once it is chosen (`chose`).
            $0.target = route.target.fixed?.description
            $0.state = .connecting
            $0.routeSettings = route
        }
        return state.withLock { state in
            // A connection that took its settings before a reload may use a route no longer listed.
            if state.routes[key] == nil {
                state.routes[key] = RouteCounters(path: key, target: route.target.description)
                state.routeOrder.append(key)
            }
            state.routes[key]?.active += 1
            state.routes[key]?.total += 1
            return state.routes[key]?.active ?? 0
        }
    }

    /// The target a dynamic route chose for this connection (shown in /stats and logged; never a token).
    func chose(_ record: ConnectionRecord, target: HostPort) {
        record.mutable.withLock { $0.target = target.description }
    }

    /// The client's `Purr-Connection` id for this connection: kept if it is a short printable token
    /// (it is shown and logged), ignored otherwise.
    public func identified(_ record: ConnectionRecord, clientID: String) {
        guard let id = Self.acceptableClientID(clientID) else { return }
        record.mutable.withLock { $0.clientID = id }
    }

    static func acceptableClientID(_ text: String) -> String? {
        guard !text.isEmpty, text.utf8.count <= 200, text.unicodeScalars.allSatisfy({ $0.value > 32 && $0.value < 127 }) else { return nil }
        return text
    }

    /// The two sockets of a relayed connection, so stats can show what the kernel knows of each hop.
    public func attach(_ record: ConnectionRecord, client: any Channel, target: any Channel) {
        record.clientTCP.watch(client)
        record.targetTCP.watch(target)
    }

    func relaying(_ record: ConnectionRecord, transport: Transport) {
        record.mutable.withLock {
            $0.state = .relaying
            $0.transport = transport
        }
        notify(ConnectionEvent(event: .opened, connection: Self.view(of: record, sampling: false)))
    }

    /// Ends a connection; a failure reason counts it under that reason (globally and per route).
    func finish(_ record: ConnectionRecord, failure: FailureReason?, detail: String) {
        record.mutable.withLock {
            $0.state = failure == nil ? .closed : .failed
            $0.reason = detail
        }
        let route = record.route
        let bytesIn = record.bytesIn.total
        let bytesOut = record.bytesOut.total
        record.clientTCP.watch(nil)
        record.targetTCP.watch(nil)
        let (removed, idle): (Bool, Bool) = state.withLock { state in
            guard state.live.removeValue(forKey: record.id) != nil else { return (false, false) }
            state.closedIn += bytesIn
            state.closedOut += bytesOut
            if let failure { state.failures[failure.rawValue, default: 0] += 1 }
            if let route, var counters = state.routes[route] {
                counters.active -= 1
                counters.closedIn += bytesIn
                counters.closedOut += bytesOut
                if let failure { counters.failures[failure.rawValue, default: 0] += 1 }
                state.routes[route] = counters
            }
            return (true, state.live.isEmpty)
        }
        if removed { notify(ConnectionEvent(event: .closed, connection: Self.view(of: record, sampling: false))) }
        if idle { idleWaiters.emptied() }
    }

    /// Drops a connection that was no connection: a health check. Not counted, not reported.
    func forget(_ record: ConnectionRecord) {
        let idle: Bool = state.withLock { state in
            guard state.live.removeValue(forKey: record.id) != nil else { return false }
            state.total -= 1
            return state.live.isEmpty
        }
        if idle { idleWaiters.emptied() }
    }

    // MARK: Reading

    private let encoded = Mutex<(at: ContinuousClock.Instant, text: String)?>(nil)

    /// The snapshot as admin JSON, shared by the stream viewers that ask within `maxAge` of each
    /// other: fifty viewers cost one snapshot and one encoding per tick, not fifty.
    public func snapshotJSON(maxAge: Duration = .milliseconds(50)) -> String {
        let now = ContinuousClock.now
        if let cached = encoded.withLock({ $0 }), now - cached.at < maxAge { return cached.text }
        let text = (try? AdminJSON.encoder().encode(snapshot())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        encoded.withLock { $0 = (now, text) }
        return text
    }

    public func snapshot() -> StatsSnapshot {
        let (copy, live) = state.withLock { ($0, Array($0.live.values)) }
        let connections = live.sorted { $0.id < $1.id }.map { Self.view(of: $0, sampling: true) }
        var liveIn: [String: Int] = [:]
        var liveOut: [String: Int] = [:]
        for connection in connections {
            guard let route = connection.route else { continue }
            liveIn[route, default: 0] += connection.bytesIn
            liveOut[route, default: 0] += connection.bytesOut
        }
        let routes = copy.routeOrder.compactMap { key -> StatsSnapshot.RouteStats? in
            guard let counters = copy.routes[key] else { return nil }
            return StatsSnapshot.RouteStats(
                path: counters.path,
                target: counters.target,
                active: counters.active,
                total: counters.total,
                bytesIn: counters.closedIn + liveIn[key, default: 0],
                bytesOut: counters.closedOut + liveOut[key, default: 0],
                failures: counters.failures
            )
        }
        return StatsSnapshot(
            server: .init(version: Self.version, uptimeSeconds: uptime, listen: copy.listen, started: started, draining: isDraining),
            totals: .init(
                active: connections.count,
                total: copy.total,
                bytesIn: copy.closedIn + connections.reduce(0) { $0 + $1.bytesIn },
                bytesOut: copy.closedOut + connections.reduce(0) { $0 + $1.bytesOut },
                failures: copy.failures
            ),
            routes: routes,
            connections: connections,
            config: copy.config,
            reverse: reverseStats
        )
    }

    /// `sampling`: a stats reader asks, so the kernel may be asked again (at most once per interval);
    /// events only carry what was last read.
    static func view(of record: ConnectionRecord, sampling: Bool) -> StatsSnapshot.Connection {
        let mutable = record.mutable.withLock { $0 }
        return StatsSnapshot.Connection(
            id: record.id,
            route: mutable.route,
            target: mutable.target,
            peer: record.peer,
            state: mutable.state,
            bytesIn: record.bytesIn.total,
            bytesOut: record.bytesOut.total,
            started: record.started,
            reason: mutable.reason,
            transport: mutable.transport,
            clientID: mutable.clientID,
            tcp: Self.hops(of: record, state: mutable.state, sampling: sampling)
        )
    }

    /// Only relaying connections have two sockets worth reading.
    static func hops(of record: ConnectionRecord, state: ConnectionState, sampling: Bool) -> StatsSnapshot.Connection.Hops? {
        guard state == .relaying else { return nil }
        let client = sampling ? record.clientTCP.latest : record.clientTCP.cached
        let target = sampling ? record.targetTCP.latest : record.targetTCP.cached
        return client == nil && target == nil ? nil : .init(client: client, target: target)
    }

    // MARK: Observers (the admin stream)

    /// Calls `handler` for each connection that opens or closes, on the thread that caused it.
    @discardableResult
    public func addObserver(_ handler: @escaping @Sendable (ConnectionEvent) -> Void) -> UInt64 {
        state.withLock { state in
            let id = state.nextObserver
            state.nextObserver += 1
            state.observers[id] = handler
            return id
        }
    }

    /// How many observers (admin stream viewers) are registered.
    public var observerCount: Int { state.withLock { $0.observers.count } }

    public func removeObserver(_ id: UInt64) {
        _ = state.withLock { $0.observers.removeValue(forKey: id) }
    }

    /// The event is only built when someone watches (no admin viewer: no work per connection).
    private func notify(_ event: @autoclosure () -> ConnectionEvent) {
        let observers = state.withLock { $0.observers.isEmpty ? [] : Array($0.observers.values) }
        guard !observers.isEmpty else { return }
        let built = event()
        for observer in observers { observer(built) }
    }
}

// MARK: Configuration reloads

extension StatsRegistry {
    /// After a reload: new routes get counters, changed targets are updated, removed routes without
    /// open connections disappear (those with some stay until a later reload finds them idle).
    func updateRoutes(_ routes: [Route]) {
        state.withLock { state in
            let keys = routes.map(Self.key(for:))
            for (key, route) in zip(keys, routes) {
                if state.routes[key] == nil {
                    state.routes[key] = RouteCounters(path: key, target: route.target.description)
                    state.routeOrder.append(key)
                } else {
                    state.routes[key]?.target = route.target.description
                }
            }
            let kept = Set(keys)
            for key in state.routeOrder where !kept.contains(key) && (state.routes[key]?.active ?? 0) == 0 {
                state.routes[key] = nil
            }
            state.routeOrder.removeAll { state.routes[$0] == nil }
        }
    }

    /// Counts a good load: the new generation and its time.
    func configLoaded(generation: Int) {
        state.withLock { state in
            state.config.generation = generation
            state.config.loaded = Date()
            state.config.reloadsOk += 1
        }
    }

    /// Counts a reload that was refused (the old configuration stays).
    public func configReloadFailed() {
        state.withLock { $0.config.reloadsFailed += 1 }
    }

    /// Closes relays whose route is gone from `table`, or now has another target or token; returns how many.
    func closeRelays(lostIn table: RouteTable) -> Int {
        let live = state.withLock { Array($0.live.values) }
        var closed = 0
        for record in live {
            let (state, route) = record.mutable.withLock { ($0.state, $0.routeSettings) }
            guard state == .relaying || state == .connecting, let route, let channel = record.channel else { continue }
            let current = table.routes.first { $0.path == route.path && $0.host == route.host }
            guard current?.target != route.target || current?.token != route.token || current?.allow != route.allow else { continue }
            channel.close(promise: nil)
            closed += 1
        }
        return closed
    }
}
