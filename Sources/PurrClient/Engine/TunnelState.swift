import Foundation
import PurrCore

/// Where a tunnel's listener is.
public enum TunnelState: Sendable, Equatable, CustomStringConvertible {
    case closed
    case opening
    case listening
    case error(String)

    public var description: String {
        switch self {
        case .closed: return "closed"
        case .opening: return "opening"
        case .listening: return "listening"
        case .error(let reason): return "error: \(reason)"
        }
    }
}

/// Where one client connection is.
public enum ClientConnectionState: Sendable, Equatable, CustomStringConvertible {
    case connecting
    case upgrading
    case relaying
    case closed
    case failed(String)

    public var description: String {
        switch self {
        case .connecting: return "connecting"
        case .upgrading: return "upgrading"
        case .relaying: return "relaying"
        case .closed: return "closed"
        case .failed(let reason): return "failed: \(reason)"
        }
    }

    var isFinished: Bool {
        switch self {
        case .closed, .failed: return true
        default: return false
        }
    }
}

/// A copy of one connection's facts.
public struct ConnectionSnapshot: Sendable, Equatable {
    public var id: UInt64
    public var peer: String
    public var state: ClientConnectionState
    /// Bytes from the local peer towards the server.
    public var bytesUp: Int
    /// Bytes from the server towards the local peer.
    public var bytesDown: Int
    public var started: Date
    /// The id sent as `Purr-Connection` (the server's `client_id` for the same connection).
    public var clientID: String?
    /// A dynamic tunnel's target for this connection (`host:port`); nil on a fixed tunnel.
    public var target: String?
    /// The kernel's view of the socket to the server (relaying connections, Linux).
    public var tcp: TCPHealth?
    /// A tunnel with several servers: the index in its list of the server this connection went to
    /// (`TunnelSnapshot.servers`); nil while none answered yet, and on a one-server tunnel.
    public var server: Int?

    public init(
        id: UInt64, peer: String, state: ClientConnectionState, bytesUp: Int, bytesDown: Int, started: Date, clientID: String? = nil,
        target: String? = nil, tcp: TCPHealth? = nil
    ) {
        self.clientID = clientID
        self.target = target
        self.tcp = tcp
        self.id = id
        self.peer = peer
        self.state = state
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.started = started
    }
}

/// A copy of one tunnel's facts, readable from any thread.
public struct TunnelSnapshot: Sendable, Equatable {
    public var config: TunnelConfig
    public var state: TunnelState
    /// The addresses actually bound (with the real port when 0 was asked for).
    public var boundAddresses: [String]
    public var active: Int
    public var total: Int
    public var failed: Int
    public var bytesUp: Int
    public var bytesDown: Int
    public var lastError: String?
    public var connections: [ConnectionSnapshot]
    /// The warm pool, while listening with `pool > 0`.
    public var pool: WarmPoolSnapshot?
    /// TLS handshakes with the server finished since the tunnel was made, and how many resumed a session.
    public var tlsHandshakes: Int
    public var tlsResumed: Int
    /// A reverse tunnel, while open: registered or not, held and active requests.
    public var reverse: ReverseSnapshot?
    /// A tunnel with several servers: each one's health, in the list's order; empty with one server.
    public var servers: [ServerHealthSnapshot] = []

    public init(
        config: TunnelConfig, state: TunnelState, boundAddresses: [String] = [], active: Int = 0, total: Int = 0, failed: Int = 0,
        bytesUp: Int = 0, bytesDown: Int = 0, lastError: String? = nil, connections: [ConnectionSnapshot] = [],
        pool: WarmPoolSnapshot? = nil, tlsHandshakes: Int = 0, tlsResumed: Int = 0
    ) {
        self.pool = pool
        self.tlsHandshakes = tlsHandshakes
        self.tlsResumed = tlsResumed
        self.config = config
        self.state = state
        self.boundAddresses = boundAddresses
        self.active = active
        self.total = total
        self.failed = failed
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.lastError = lastError
        self.connections = connections
    }

    public var name: String { config.name }

    /// The bound port (the same on every address of a `localhost` listener).
    public var port: Int? {
        boundAddresses.first.flatMap { $0.split(separator: ":").last.flatMap { Int($0) } }
    }
}

/// What the engine reports as it happens.
public enum TunnelEvent: Sendable, Equatable {
    case tunnelStateChanged(name: String, state: TunnelState)
    case connectionChanged(tunnel: String, connection: ConnectionSnapshot)
    case tunnelRemoved(name: String)
}
