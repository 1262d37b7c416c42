import Foundation
import NIOCore
import PurrCore
import Synchronization

/// One connection's live facts. The relay touches only the two byte counters.
public final class ConnectionRecord: Sendable {
    public let id: UInt64
    public let peer: String
    public let started: Date
    /// Bytes from the client towards the target.
    public let bytesIn = ByteCounter()
    /// Bytes from the target towards the client.
    public let bytesOut = ByteCounter()
    let mutable: Mutex<Mutable>
    /// The client's channel, so a reload with `drop_removed` can close relays that lost their route.
    let channel: (any Channel)?
    /// The kernel's view of the socket from the client and of the one to the target, read at most once
    /// per stats interval when someone asks for stats.
    let clientTCP = TCPSampler()
    let targetTCP = TCPSampler()

    struct Mutable {
        var state: ConnectionState = .readingHead
        var route: String?
        var target: String?
        var reason: String?
        var transport: Transport?
        /// The route as configured when this connection was routed (target and token included).
        var routeSettings: Route?
        var clientID: String?
    }

    init(id: UInt64, peer: String, started: Date, channel: (any Channel)? = nil) {
        self.id = id
        self.peer = peer
        self.started = started
        self.channel = channel
        self.mutable = Mutex(Mutable())
    }

    public var state: ConnectionState { mutable.withLock { $0.state } }
    public var route: String? { mutable.withLock { $0.route } }
    public var target: String? { mutable.withLock { $0.target } }
    public var reason: String? { mutable.withLock { $0.reason } }
    public var transport: Transport? { mutable.withLock { $0.transport } }
    public var clientID: String? { mutable.withLock { $0.clientID } }
}
