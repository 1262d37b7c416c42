import Foundation
import PurrCore

/// One published connection this side relays: a held request the server answered, and the local
/// target it was dialed to. Its id went out as `Purr-Connection` with the held request, so a viewer
/// joins it with the server's record of the same connection, as for forward connections.
final class ReverseRelay: Sendable {
    let id: UInt64
    let clientID: String
    let started = Date()
    /// Bytes from the server (the published side) and from the target.
    let fromServer = ByteCounter()
    let fromTarget = ByteCounter()
    let name: String
    let target: String

    init(id: UInt64, clientID: String, name: String, target: String) {
        self.id = id
        self.clientID = clientID
        self.name = name
        self.target = target
    }

    /// Up is towards the server (what the target sent), down is what the published side sent.
    var snapshot: ConnectionSnapshot {
        ConnectionSnapshot(
            id: id, peer: "← \(name)", state: .relaying, bytesUp: fromTarget.total, bytesDown: fromServer.total, started: started,
            clientID: clientID, target: target)
    }
}
