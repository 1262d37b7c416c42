import Foundation
import NIOCore
import PurrCore
import Synchronization

/// One accepted local connection and its way through the server. The relay only touches the counters.
final class ClientConnection: Sendable {
    let id: UInt64
    let peer: String
    let started = Date()
    let bytesUp = ByteCounter()
    let bytesDown = ByteCounter()
    let local: any Channel
    /// Sent as `Purr-Connection` so a viewer can join this side with the server's record of it.
    let clientID: String
    /// The kernel's view of the socket to the server, read at most once per interval when asked.
    let serverTCP = TCPSampler()
    private let mutable = Mutex(Mutable())

    private struct Mutable {
        var state = ClientConnectionState.connecting
        var server: (any Channel)?
        /// Several servers: the index of the one that answered 101, and whether its count was given back.
        var serverIndex: Int?
        var released = false
    }

    /// A dynamic tunnel's target for this connection (`host:port`); nil on a fixed tunnel.
    let target: String?

    init(id: UInt64, peer: String, local: any Channel, tunnel: String = "", target: String? = nil) {
        self.target = target
        self.id = id
        self.peer = peer
        self.local = local
        self.clientID = ClientInstance.connectionID(tunnel: tunnel, number: id)
    }

    var state: ClientConnectionState { mutable.withLock { $0.state } }

    /// Several servers: the one this connection went to (set at its 101).
    var server: Int? {
        get { mutable.withLock { $0.serverIndex } }
        set { mutable.withLock { $0.serverIndex = newValue } }
    }

    /// The server whose active count this connection holds, once: nil the second time.
    func releaseServer() -> Int? {
        mutable.withLock { mutable in
            guard let index = mutable.serverIndex, !mutable.released else { return nil }
            mutable.released = true
            return index
        }
    }

    /// Moves to a new state unless already finished; returns whether it moved.
    @discardableResult
    func transition(to state: ClientConnectionState) -> Bool {
        mutable.withLock { current in
            guard !current.state.isFinished else { return false }
            current.state = state
            return true
        }
    }

    func attach(server: any Channel) {
        mutable.withLock { $0.server = server }
        serverTCP.watch(server)
    }

    /// Closes both sockets.
    func close() {
        let server = mutable.withLock { $0.server }
        local.close(promise: nil)
        server?.close(promise: nil)
    }

    var snapshot: ConnectionSnapshot {
        let (state, server) = mutable.withLock { ($0.state, $0.serverIndex) }
        var snapshot = ConnectionSnapshot(
            id: id,
            peer: peer,
            state: state,
            bytesUp: bytesUp.total,
            bytesDown: bytesDown.total,
            started: started,
            clientID: clientID,
            target: target,
            tcp: state == .relaying ? serverTCP.latest : nil
        )
        snapshot.server = server
        return snapshot
    }
}
