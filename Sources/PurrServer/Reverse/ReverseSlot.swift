import Foundation
import Logging
import NIOCore
import PurrCore
import Synchronization

/// The live state of one reverse name: registered clients, their held requests that wait free (a ready
/// pool, oldest first), published connections waiting for one, and counters. Shared by every thread:
/// the upgrade handlers (admit, ready, gone) and the entry's listener (match, refuse).
public final class ReverseSlot: Sendable {
    public let name: String

    struct Client {
        /// Held requests admitted and not yet used or closed.
        var holds = 0
        var lastUse: ContinuousClock.Instant?
    }

    /// A published connection not yet given to a held request: an accepted socket, not yet a channel.
    struct Waiting {
        var descriptor: CInt
        var peer: String
        var deadline: ContinuousClock.Instant
    }

    /// What this name has done, for stats and tests. Bytes are seen from the published side: `bytesIn`
    /// from published connections to the exposed service, `bytesOut` back.
    public struct Counters: Sendable, Equatable {
        public var clients = 0
        public var held = 0
        public var waiting = 0
        /// Published connections relaying now.
        public var active = 0
        public var connections = 0
        public var bytesIn = 0
        public var bytesOut = 0
        public var refusals: [String: Int] = [:]
    }

    struct State {
        var clients: [String: Client] = [:]
        var idle: [ReverseHold] = []
        var waiting: [Waiting] = []
        var connections = 0
        /// The held requests' records while they relay a published connection, and what closed ones moved.
        var relays: [UInt64: ConnectionRecord] = [:]
        var closedIn = 0
        var closedOut = 0
        var refusals: [String: Int] = [:]
        var logger = Logger(label: "purr-server")
        var wake: (@Sendable () -> Void)?
        var published: HostPort?
        var settings: (share: Bool, maxClients: Int, pool: Int, grace: Double) = (false, 1, 16, 10)
    }

    private let state = Mutex(State())

    init(name: String) {
        self.name = name
    }

    /// Called by the listener once it runs.
    func configure(_ entry: ReverseEntry, logger: Logger, published: HostPort, wake: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.logger = logger
            $0.wake = wake
            $0.published = published
            $0.settings = (entry.share, entry.maxClients, entry.pool, entry.waitTimeout)
        }
    }

    /// Where the published side listens (the `publish` route connects there); nil before start.
    public var publishedAddress: HostPort? { state.withLock { $0.published } }

    public var counters: Counters {
        let (copy, relays) = state.withLock { ($0, Array($0.relays.values)) }
        // A held request's record counts from its client (the exposing one) to its target (the published connection).
        return Counters(
            clients: copy.clients.count, held: copy.idle.count, waiting: copy.waiting.count, active: relays.count,
            connections: copy.connections, bytesIn: copy.closedIn + relays.reduce(0) { $0 + $1.bytesOut.total },
            bytesOut: copy.closedOut + relays.reduce(0) { $0 + $1.bytesIn.total }, refusals: copy.refusals)
    }

    /// A held request took a published connection: counted as active until its channel closes.
    func relayStarted(_ record: ConnectionRecord) {
        state.withLock { $0.relays[record.id] = record }
    }

    func relayEnded(_ record: ConnectionRecord) {
        state.withLock { state in
            guard state.relays.removeValue(forKey: record.id) != nil else { return }
            state.closedIn += record.bytesOut.total
            state.closedOut += record.bytesIn.total
        }
    }

    /// Whether any client has the name (a client whose held requests all closed unused is gone at once;
    /// one whose last request was just used has `wait_timeout` to open the next).
    public var isRegistered: Bool {
        state.withLock { state in
            prune(&state, now: .now)
            return !state.clients.isEmpty
        }
    }

    private func prune(_ state: inout State, now: ContinuousClock.Instant) {
        let grace = Duration.milliseconds(Int(state.settings.grace * 1000))
        for (id, client) in state.clients where client.holds == 0 {
            if let used = client.lastUse, now - used < grace { continue }
            state.clients[id] = nil
            state.logger.notice("reverse client released", metadata: ["reverse": "\(name)", "client": "\(id)"])
        }
    }

    /// A registration request that passed the token: a hold, or why not (pool, share, max_clients).
    /// `record`: the request's connection, counted by this name while it relays.
    func admit(clientID: String, record: ConnectionRecord? = nil) -> Admission {
        let refusal: Refusal? = state.withLock { state in
            prune(&state, now: .now)
            if var client = state.clients[clientID] {
                guard client.holds < state.settings.pool else {
                    return Refusal(
                        status: 503, reasonPhrase: "Service Unavailable",
                        message: "this client already holds its pool of \(state.settings.pool) requests for \(name)", failure: .overLimit)
                }
                client.holds += 1
                state.clients[clientID] = client
                return nil
            }
            if !state.settings.share, !state.clients.isEmpty {
                return Refusal(
                    status: 409, reasonPhrase: "Conflict", message: "\(name) is exposed by another client (share = false)",
                    failure: .overLimit)
            }
            guard state.clients.count < state.settings.maxClients else {
                return Refusal(
                    status: 503, reasonPhrase: "Service Unavailable",
                    message: "\(name) has its limit of \(state.settings.maxClients) clients", failure: .overLimit)
            }
            state.clients[clientID] = Client(holds: 1)
            state.logger.notice("reverse client registered", metadata: ["reverse": "\(name)", "client": "\(clientID)"])
            return nil
        }
        if let refusal { return .refused(refusal) }
        return .held(ReverseHold(clientID: clientID, slot: self, record: record))
    }

    enum Admission {
        case held(ReverseHold)
        case refused(Refusal)
    }

    /// A held request waits free.
    func ready(_ hold: ReverseHold) {
        let wake = state.withLock { state in
            state.idle.append(hold)
            return state.wake
        }
        wake?()
    }

    /// A held request's connection closed (unused, or after its use: then nothing is left to do). A
    /// client whose last held request closed unused is gone at once, even if it served a moment ago: it
    /// is not busy opening the next one (that would be a used request), it went away.
    func gone(_ hold: ReverseHold) {
        let wake: (@Sendable () -> Void)? = state.withLock { state in
            guard let index = state.idle.firstIndex(where: { $0 === hold }) else { return nil }
            state.idle.remove(at: index)
            state.clients[hold.clientID]?.holds -= 1
            if state.clients[hold.clientID]?.holds == 0 { state.clients[hold.clientID]?.lastUse = nil }
            prune(&state, now: .now)
            return state.clients.isEmpty ? state.wake : nil
        }
        wake?()  // the listener refuses whoever waits, at once
    }

    // MARK: The listener's side

    /// Pairs waiting connections with free held requests (oldest first), expires waits past their
    /// deadline, and refuses every waiting connection once no client is registered.
    func match(now: ContinuousClock.Instant) -> (pairs: [(Waiting, ReverseHold)], refused: [(Waiting, String)]) {
        state.withLock { state in
            var pairs: [(Waiting, ReverseHold)] = []
            while !state.waiting.isEmpty, !state.idle.isEmpty {
                let hold = state.idle.removeFirst()
                pairs.append((state.waiting.removeFirst(), hold))
                state.clients[hold.clientID]?.holds -= 1
                state.clients[hold.clientID]?.lastUse = now
                state.connections += 1
            }
            prune(&state, now: now)
            var refused: [(Waiting, String)] = []
            if state.clients.isEmpty {
                refused = state.waiting.map { ($0, "not_registered") }
                state.waiting = []
            } else {
                let (late, kept) = (state.waiting.filter { $0.deadline <= now }, state.waiting.filter { $0.deadline > now })
                refused = late.map { ($0, "wait_timeout") }
                state.waiting = kept
            }
            for (_, reason) in refused { state.refusals[reason, default: 0] += 1 }
            return (pairs, refused)
        }
    }

    /// A new published connection: waits (bounded), or is refused at once (nothing registered, too many waiting).
    func arrived(_ waiting: Waiting, maxWaiting: Int) -> String? {
        state.withLock { state in
            prune(&state, now: .now)
            let reason: String
            if state.clients.isEmpty {
                reason = "not_registered"
            } else if state.waiting.count >= maxWaiting {
                reason = "too_many_waiting"
            } else {
                state.waiting.append(waiting)
                return nil
            }
            state.refusals[reason, default: 0] += 1
            return reason
        }
    }

    /// Whether a held request is free beyond those the waiting connections will take.
    var hasFreeHold: Bool { state.withLock { $0.idle.count > $0.waiting.count } }

    /// A published connection refused before it reached the listener (the `publish` route's 503).
    func count(refusal reason: String) {
        state.withLock { $0.refusals[reason, default: 0] += 1 }
    }

    /// The earliest deadline of a waiting connection (the listener's poll timeout).
    var nextDeadline: ContinuousClock.Instant? { state.withLock { $0.waiting.map(\.deadline).min() } }

    /// At shutdown: every free held request is closed (the drain waits for relays, not for these).
    func closeHeld() {
        let held = state.withLock { state in
            defer { state.idle = [] }
            return state.idle
        }
        for hold in held { hold.close() }
    }

    /// Waiting connections at shutdown: handed back to be closed.
    func drainWaiting() -> [Waiting] {
        state.withLock { state in
            defer { state.waiting = [] }
            return state.waiting
        }
    }

    var logger: Logger { state.withLock { $0.logger } }

    /// Closes a published connection that became a channel but lost its held request, with a line.
    func refuse(_ published: any Channel, reason: String, _ why: String) {
        state.withLock { $0.refusals[reason, default: 0] += 1 }
        logger.notice(
            "reverse connection refused",
            metadata: ["reverse": "\(name)", "peer": "\(published.remoteAddress?.hostPortDescription ?? "?")", "reason": "\(why)"])
        published.close(promise: nil)
    }
}
