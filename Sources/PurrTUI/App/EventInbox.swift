import Foundation
import PurrClient
import PurrCore
import Synchronization

/// Collects connection events as they happen, from the client engine and from each watched server's
/// stream (on their own tasks); the app loop takes them at each refresh.
final class EventInbox: Sendable {
    private let pending = Mutex<[EventLog.Entry]>([])
    private let tasks = Mutex<[Task<Void, Never>]>([])
    /// The client's counters of each joined connection, read the moment a server's snapshot arrived.
    private let samples = Mutex<[String: [String: (up: Int, down: Int)]]>([:])
    /// More than this waiting (nobody draining) drops the oldest.
    static let limit = 2000

    func follow(engine: TunnelEngine, streams: [AdminStream]) {
        let events = engine.events()
        var started = [
            Task { [weak self] in
                for await event in events {
                    if let entry = Self.entry(for: event) { self?.add(entry) }
                }
            }
        ]
        for stream in streams {
            let updates = stream.updates()
            let name = stream.name
            started.append(
                Task { [weak self] in
                    for await update in updates {
                        if case .stats(let snapshot) = update { self?.sample(engine, against: snapshot, server: name) }
                        if let entry = Self.entry(for: update, server: name) { self?.add(entry) }
                    }
                })
        }
        tasks.withLock { $0 += started }
    }

    func add(_ entry: EventLog.Entry) {
        pending.withLock { list in
            list.append(entry)
            if list.count > Self.limit { list.removeFirst(list.count - Self.limit) }
        }
    }

    /// In-flight bytes compare the server's counters with the client's at the same moment: the
    /// client's are read here, as the server's snapshot arrives, not at the next screen refresh.
    func sample(_ engine: TunnelEngine, against snapshot: StatsSnapshot, server: String) {
        let wanted = Set(snapshot.connections.compactMap(\.clientID))
        var found: [String: (up: Int, down: Int)] = [:]
        for tunnel in wanted.isEmpty ? [] : engine.snapshot() {
            for connection in tunnel.connections {
                if let id = connection.clientID, wanted.contains(id) { found[id] = (connection.bytesUp, connection.bytesDown) }
            }
        }
        samples.withLock { $0[server] = found }
    }

    /// The latest client-side samples, by connection id.
    var latestSamples: [String: (up: Int, down: Int)] {
        samples.withLock { $0.values.reduce(into: [:]) { all, server in all.merge(server) { a, _ in a } } }
    }

    /// Everything collected since the last call, oldest first.
    func drain() -> [EventLog.Entry] {
        pending.withLock { list in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }

    func stop() {
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }

    /// A client connection that started relaying or ended; nil for the steps in between.
    static func entry(for event: TunnelEvent, at time: Date = Date()) -> EventLog.Entry? {
        guard case .connectionChanged(let tunnel, let connection) = event else { return nil }
        let kind: EventLog.Entry.Kind
        var reason: String?
        switch connection.state {
        case .relaying: kind = .opened
        case .closed: kind = .closed
        case .failed(let why):
            kind = .failed
            reason = why
        case .connecting, .upgrading: return nil
        }
        return EventLog.Entry(
            time: time, origin: .client(tunnel: tunnel), kind: kind,
            peer: connection.target.map { "\(connection.peer) → \($0)" } ?? connection.peer, up: connection.bytesUp,
            down: connection.bytesDown, reason: reason, clientID: connection.clientID)
    }

    /// A server's `event: connection`: opened, closed, or failed (closed with the failed state).
    static func entry(for update: AdminStream.Update, server: String, at time: Date = Date()) -> EventLog.Entry? {
        guard case .connection(let event) = update else { return nil }
        let connection = event.connection
        let kind: EventLog.Entry.Kind = event.event == .opened ? .opened : connection.state == .failed ? .failed : .closed
        return EventLog.Entry(
            time: time, origin: .server(name: server, route: connection.route), kind: kind, peer: connection.peer,
            up: connection.bytesIn, down: connection.bytesOut, reason: event.event == .opened ? nil : connection.reason,
            clientID: connection.clientID)
    }
}
