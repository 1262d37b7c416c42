import Foundation

/// One tunnel as the `tunnels` command reports it (the popup's rows, `Purr.tunnels()`).
struct TunnelDetails: Sendable, Equatable, Encodable {
    var port: Int
    /// The server URL with every query value hidden (`TargetRedaction`).
    var url: String
    /// `listening`, `closed`, or `error: …`.
    var state: String
    /// Connections open now.
    var active: Int
    var total: Int
    var failed: Int
    var bytesUp: Int
    var bytesDown: Int
    /// Why the last connection or listener failed, in words.
    var lastError: String?
    var connections: [Connection]

    struct Connection: Sendable, Equatable, Encodable {
        var id: UInt64
        var peer: String
        var state: String
        var bytesUp: Int
        var bytesDown: Int
    }

    init(port: Int, snapshot: TunnelSnapshot) {
        self.port = port
        url = snapshot.config.url.redacted
        state = snapshot.state.description
        active = snapshot.active
        total = snapshot.total
        failed = snapshot.failed
        bytesUp = snapshot.bytesUp
        bytesDown = snapshot.bytesDown
        lastError = snapshot.lastError
        connections = snapshot.connections.map {
            Connection(id: $0.id, peer: $0.peer, state: $0.state.description, bytesUp: $0.bytesUp, bytesDown: $0.bytesDown)
        }
    }
}
