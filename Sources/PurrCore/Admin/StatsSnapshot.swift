import Foundation

/// A point-in-time copy of a server's counters: the admin endpoint's JSON (see README "Admin
/// endpoint"), shared by the server that writes it and the clients that read it. Bytes are bytes,
/// durations seconds, times RFC 3339.
public struct StatsSnapshot: Sendable, Codable, Equatable {
    public struct Server: Sendable, Codable, Equatable {
        public var version: String
        public var uptimeSeconds: Double
        public var listen: String
        public var started: Date
        /// Draining: new upgrades get 503 with `Retry-After` while live relays finish (absent: false).
        public var draining: Bool

        public init(version: String, uptimeSeconds: Double, listen: String, started: Date, draining: Bool = false) {
            self.version = version
            self.uptimeSeconds = uptimeSeconds
            self.listen = listen
            self.started = started
            self.draining = draining
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            version = try container.decode(String.self, forKey: .version)
            uptimeSeconds = try container.decode(Double.self, forKey: .uptimeSeconds)
            listen = try container.decode(String.self, forKey: .listen)
            started = try container.decode(Date.self, forKey: .started)
            draining = try container.decodeIfPresent(Bool.self, forKey: .draining) ?? false
        }
    }

    /// One `[[reverse]]` name: clients registered, held requests free, published connections waiting,
    /// served, their bytes, and refusals by reason.
    public struct ReverseStats: Sendable, Codable, Equatable {
        public var name: String
        public var clients: Int
        public var held: Int
        public var waiting: Int
        public var active: Int
        public var connections: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var refusals: [String: Int]

        public init(
            name: String, clients: Int, held: Int, waiting: Int, active: Int, connections: Int, bytesIn: Int, bytesOut: Int,
            refusals: [String: Int]
        ) {
            self.name = name
            self.clients = clients
            self.held = held
            self.waiting = waiting
            self.active = active
            self.connections = connections
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.refusals = refusals
        }
    }

    public struct Totals: Sendable, Codable, Equatable {
        public var active: Int
        public var total: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var failures: [String: Int]

        public init(active: Int, total: Int, bytesIn: Int, bytesOut: Int, failures: [String: Int]) {
            self.active = active
            self.total = total
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.failures = failures
        }
    }

    public struct RouteStats: Sendable, Codable, Equatable {
        public var path: String
        public var target: String
        public var active: Int
        public var total: Int
        public var bytesIn: Int
        public var bytesOut: Int
        public var failures: [String: Int]

        public init(path: String, target: String, active: Int, total: Int, bytesIn: Int, bytesOut: Int, failures: [String: Int]) {
            self.path = path
            self.target = target
            self.active = active
            self.total = total
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.failures = failures
        }
    }

    public struct Connection: Sendable, Codable, Equatable {
        public var id: UInt64
        public var route: String?
        public var target: String?
        public var peer: String
        public var state: ConnectionState
        /// Bytes from the client towards the target.
        public var bytesIn: Int
        /// Bytes from the target towards the client.
        public var bytesOut: Int
        public var started: Date
        /// Why it ended (closed and failed connections only).
        public var reason: String?
        /// How the client speaks (`purr`, `websocket-compat`, `websocket`), once its upgrade is accepted.
        public var transport: Transport?
        /// The client's id for this connection (its `Purr-Connection` header), when it sent one.
        public var clientID: String?
        /// The kernel's view of the socket from the client and of the socket to the target.
        public var tcp: Hops?

        /// `clientId` so that the snake-case strategies meet at `client_id` both ways.
        enum CodingKeys: String, CodingKey {
            case id, route, target, peer, state, bytesIn, bytesOut, started, reason, transport, tcp
            case clientID = "clientId"
        }

        /// `TCPHealth` of each socket of a relayed connection on the server.
        public struct Hops: Sendable, Codable, Equatable {
            public var client: TCPHealth?
            public var target: TCPHealth?

            public init(client: TCPHealth?, target: TCPHealth?) {
                self.client = client
                self.target = target
            }
        }

        public init(
            id: UInt64, route: String?, target: String?, peer: String, state: ConnectionState, bytesIn: Int, bytesOut: Int,
            started: Date, reason: String?, transport: Transport? = nil, clientID: String? = nil, tcp: Hops? = nil
        ) {
            self.clientID = clientID
            self.tcp = tcp
            self.id = id
            self.route = route
            self.target = target
            self.peer = peer
            self.state = state
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.started = started
            self.reason = reason
            self.transport = transport
        }
    }

    /// The configuration in use: which generation (1 at start, one more per good reload), when it
    /// was loaded, and how reloads went. Absent from servers that predate reloading.
    public struct ConfigStatus: Sendable, Codable, Equatable {
        public var generation: Int
        public var loaded: Date
        public var reloadsOk: Int
        public var reloadsFailed: Int

        public init(generation: Int, loaded: Date, reloadsOk: Int, reloadsFailed: Int) {
            self.generation = generation
            self.loaded = loaded
            self.reloadsOk = reloadsOk
            self.reloadsFailed = reloadsFailed
        }
    }

    public var server: Server
    public var totals: Totals
    public var routes: [RouteStats]
    public var connections: [Connection]
    public var config: ConfigStatus?
    /// The `[[reverse]]` names; absent from servers without any (and from older ones).
    public var reverse: [ReverseStats]?

    public init(
        server: Server, totals: Totals, routes: [RouteStats], connections: [Connection], config: ConfigStatus? = nil,
        reverse: [ReverseStats]? = nil
    ) {
        self.server = server
        self.totals = totals
        self.routes = routes
        self.connections = connections
        self.config = config
        self.reverse = reverse
    }
}

/// One connection opening or closing, as the admin stream's `event: connection` reports it.
public struct ConnectionEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case opened, closed }
    public var event: Kind
    public var connection: StatsSnapshot.Connection

    public init(event: Kind, connection: StatsSnapshot.Connection) {
        self.event = event
        self.connection = connection
    }
}

/// The admin JSON's conventions in one place: snake_case keys, RFC 3339 times, sorted keys.
public enum AdminJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
