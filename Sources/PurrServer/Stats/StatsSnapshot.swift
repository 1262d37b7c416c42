import Foundation

/// A point-in-time copy of the server's counters: what the admin endpoint serves as JSON.
public struct StatsSnapshot: Sendable, Codable, Equatable {
    public struct Server: Sendable, Codable, Equatable {
        public var version: String
        public var uptimeSeconds: Double
        public var listen: String
        public var started: Date
    }

    public struct Totals: Sendable, Codable, Equatable {
        public var active: Int
        public var total: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var failures: [String: Int]
    }

    public struct RouteStats: Sendable, Codable, Equatable {
        public var path: String
        public var target: String
        public var active: Int
        public var total: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var failures: [String: Int]
    }

    public struct Connection: Sendable, Codable, Equatable {
        public var id: UInt64
        public var route: String?
        public var target: String?
        public var peer: String
        public var state: ConnectionState
        public var bytesIn: Int
        public var bytesOut: Int
        public var started: Date
        public var reason: String?
    }

    public var server: Server
    public var totals: Totals
    public var routes: [RouteStats]
    public var connections: [Connection]
}

/// One connection opening or closing, as the admin stream's `event: connection` reports it.
public struct ConnectionEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case opened, closed }
    public var event: Kind
    public var connection: StatsSnapshot.Connection
}
