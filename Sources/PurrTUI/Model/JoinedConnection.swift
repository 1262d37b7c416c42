import Foundation
import PurrClient
import PurrCore

/// One connection seen from both ends: this client's side, and the server's record of the same
/// connection (joined by the `Purr-Connection` id), when a watched server knows it.
public struct JoinedConnection: Sendable, Equatable {
    public var client: ConnectionSnapshot
    public var server: StatsSnapshot.Connection?
    /// The watched server (its `[[servers]]` name) whose admin stream knows this connection.
    public var serverName: String?
    /// The client's counters when the server's snapshot arrived, so the in-flight figures compare
    /// numbers taken at (about) the same moment.
    public var clientAtServerSample: (up: Int, down: Int)?

    public init(client: ConnectionSnapshot, server: StatsSnapshot.Connection? = nil, clientAtServerSample: (up: Int, down: Int)? = nil) {
        self.client = client
        self.server = server
        self.clientAtServerSample = clientAtServerSample
    }

    public static func == (lhs: JoinedConnection, rhs: JoinedConnection) -> Bool {
        lhs.client == rhs.client && lhs.server == rhs.server && lhs.serverName == rhs.serverName
            && lhs.clientAtServerSample?.up == rhs.clientAtServerSample?.up
            && lhs.clientAtServerSample?.down == rhs.clientAtServerSample?.down
    }

    /// Bytes the client sent that the server has not read yet (on the wire, in buffers, in a proxy).
    public var inFlightUp: Int? {
        guard let server else { return nil }
        return max(0, (clientAtServerSample?.up ?? client.bytesUp) - server.bytesIn)
    }

    /// Bytes the server sent towards the client that the client has not read yet.
    public var inFlightDown: Int? {
        guard let server else { return nil }
        return max(0, server.bytesOut - (clientAtServerSample?.down ?? client.bytesDown))
    }

    /// Round-trip time of the client -> server hop, from the client's socket.
    public var clientRTT: Int? { client.tcp?.rttUs }
    /// Round-trip time of the server -> target hop, from the server's socket.
    public var targetRTT: Int? { server?.tcp?.target?.rttUs }

    /// Retransmitted segments on every socket we can see.
    public var retransmits: Int? {
        let parts = [client.tcp?.retransmits, server?.tcp?.client?.retransmits, server?.tcp?.target?.retransmits].compactMap { $0 }
        return parts.isEmpty ? nil : parts.reduce(0, +)
    }

    /// A hop is worth a look when its round trip passes 100 ms or the kernel counts segments lost now.
    public static func isSlow(_ health: TCPHealth?) -> Bool {
        guard let health else { return false }
        return health.rttUs >= 100_000 || health.lost > 0
    }

    public var clientHopSlow: Bool { Self.isSlow(client.tcp) || Self.isSlow(server?.tcp?.client) }
    public var targetHopSlow: Bool { Self.isSlow(server?.tcp?.target) }

    /// Joins a tunnel's connections with the servers' connections (`byClientID`); `names` says which
    /// watched server each came from.
    public static func join(
        _ connections: [ConnectionSnapshot], servers byClientID: [String: StatsSnapshot.Connection],
        samples: [String: (up: Int, down: Int)] = [:], names: [String: String] = [:]
    ) -> [JoinedConnection] {
        connections.map { connection in
            guard let id = connection.clientID else { return JoinedConnection(client: connection) }
            var joined = JoinedConnection(client: connection, server: byClientID[id], clientAtServerSample: samples[id])
            joined.serverName = names[id]
            return joined
        }
    }
}
