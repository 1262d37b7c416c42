import Foundation

/// Connections opening, closing and failing, from the client engine and from the servers' streams:
/// the newest last, at most `capacity` kept.
public struct EventLog: Sendable {
    public struct Entry: Sendable, Equatable {
        public enum Kind: String, Sendable { case opened, closed, failed }
        public enum Origin: Sendable, Equatable {
            /// This client's engine, for one tunnel.
            case client(tunnel: String)
            /// A watched server's stream, for one route.
            case server(name: String, route: String?)
        }

        public var time: Date
        public var origin: Origin
        public var kind: Kind
        public var peer: String
        /// Bytes towards the server / target, and back.
        public var up: Int
        public var down: Int
        public var reason: String?
        public var clientID: String?

        public init(
            time: Date, origin: Origin, kind: Kind, peer: String, up: Int = 0, down: Int = 0, reason: String? = nil, clientID: String? = nil
        ) {
            self.time = time
            self.origin = origin
            self.kind = kind
            self.peer = peer
            self.up = up
            self.down = down
            self.reason = reason
            self.clientID = clientID
        }

        /// Where it happened, as the log shows it: `tunnel` or `server /route`.
        public var place: String {
            switch origin {
            case .client(let tunnel): return tunnel
            case .server(let name, let route): return route.map { "\(name) \($0)" } ?? name
            }
        }

        /// Every column as text, for the filter.
        func matches(_ filter: String) -> Bool {
            guard !filter.isEmpty else { return true }
            return [place, kind.rawValue, peer, reason ?? "", clientID ?? ""].contains { $0.localizedCaseInsensitiveContains(filter) }
        }
    }

    public static let capacity = 1000
    public private(set) var entries: [Entry] = []
    /// Counts every entry ever added, so views can tell that something new came in.
    public private(set) var added = 0

    public init() {}

    public mutating func append(_ entry: Entry) {
        entries.append(entry)
        added += 1
        if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
    }

    public mutating func append(contentsOf new: [Entry]) {
        for entry in new { append(entry) }
    }

    /// The entries the filter lets through, newest last.
    public func filtered(_ filter: String) -> [Entry] {
        filter.isEmpty ? entries : entries.filter { $0.matches(filter) }
    }
}
