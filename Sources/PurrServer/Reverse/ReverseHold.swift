import NIOCore
import PurrCore
import Synchronization

/// One held registration request: an exposing client's upgrade request, kept unanswered until a
/// published connection takes it. Made when the request is admitted (`ReverseSlot.admit`); its handler
/// then waits on it (`wait`) and gets the published connection on its own event loop (`deliver`).
final class ReverseHold: @unchecked Sendable {
    let clientID: String
    let slot: ReverseSlot
    /// The held request's connection in the stats (nil where none is kept).
    let record: ConnectionRecord?
    /// Loop-confined to the held request's event loop.
    private var client: (any Channel)?
    private var onUse: ((any Channel) -> Void)?
    private var watcher: HeldInputWatcher?

    init(clientID: String, slot: ReverseSlot, record: ConnectionRecord? = nil) {
        self.clientID = clientID
        self.slot = slot
        self.record = record
    }

    /// The held connection's loop (set by `wait`, read under the slot's lock afterwards).
    private(set) var loop: (any EventLoop)?

    /// The upgrade handler waits here (on its loop): `use` gets the published connection, on this loop.
    func wait(client: any Channel, use: @escaping (any Channel) -> Void) {
        client.eventLoop.preconditionInEventLoop()
        self.client = client
        self.onUse = use
        self.loop = client.eventLoop
        client.closeFuture.whenComplete { _ in self.slot.gone(self) }
        // The gate keeps a client's end of input for its relay; a held request that ends its input (a
        // client killed, a proxy that gave up) is gone, not half-closed.
        let watcher = HeldInputWatcher()
        self.watcher = watcher
        try? client.pipeline.syncOperations.addHandler(watcher, position: .first)
        slot.ready(self)
    }

    /// Closes the held request (server shutdown): it is not a relay to drain.
    func close() {
        guard let loop else { return }
        loop.execute { self.client?.close(promise: nil) }
    }

    /// A published connection for this held request (on its loop). A held request that closed in the
    /// meantime refuses it with a line.
    func deliver(_ published: any Channel) {
        published.eventLoop.preconditionInEventLoop()
        guard let use = onUse, client?.isActive == true else {
            slot.refuse(published, reason: "held_closed", "the held request closed as the connection arrived")
            return
        }
        onUse = nil
        if let watcher, let client { client.pipeline.syncOperations.removeHandler(watcher, promise: nil) }
        if let record, let client {
            // In /stats and the event stream the relay's target is the published peer; the name counts it
            // as active until the held request's channel (the relay's client side) closes.
            record.mutable.withLock { $0.target = published.remoteAddress?.hostPortDescription ?? "?" }
            slot.relayStarted(record)
            client.closeFuture.whenComplete { [slot] _ in slot.relayEnded(record) }
        }
        watcher = nil
        client = nil
        use(published)
    }
}

/// Closes a held request whose input ends before it is used.
final class HeldInputWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
