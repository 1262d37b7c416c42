import NIOCore

/// The tail of every channel that will be relayed, from the moment the channel exists until it closes:
/// first where its bytes wait before the relay, then its half of the relay. One handler for both, so a
/// relay starts without handlers taken out or put in (two of each per relay before, on every hop).
///
/// Holding (`RelayHandOver`): whatever reaches the tail before `RelaySession` joins the two channels
/// (bytes behind a request head or a 101, forwarded by NIOHTTP1's decoder when it is removed; bytes NIO
/// reads to the end when a FIN arrives even with `autoRead` off) is kept here, with the end of input.
/// Reading need not be turned off while a handshake finishes (two `epoll_ctl` calls per connection): what
/// is held is bounded instead. Past `holdLimit` bytes, reading stops until the relay turns it on again.
///
/// Relaying (`join`): reads on this channel become writes on the partner's (NIO's connect-proxy pattern).
/// Backpressure: a read is only requested while the partner is writable, so a slow reader on one side
/// stops reading on the other and nothing buffers past the partner's write high-water mark.
/// Half-close: end of input here shuts the partner's output once its queued bytes are written.
public final class RelayEndHandler {
    /// The most held before reading stops (one read of NIO's may overshoot it by its buffer sizes).
    public static let holdLimit = 64 * 1024

    private var context: ChannelHandlerContext?
    private(set) var inputClosed = false

    // Holding.
    private(set) var buffered: ByteBuffer?
    /// Early data: while set, what is read goes straight to it (the server connection, before its 101).
    private var sink: ((ByteBuffer) -> Void)?
    private var sinkBudget = 0
    /// A tunnel with several servers: keep a copy of what went to the sink, so that a server that refuses
    /// before its 101 costs the app no byte (`rewind`). Off: nothing is copied (one server).
    public var keepsForwarded = false
    private var forwarded: ByteBuffer?

    // Relaying: set by `join`. The cycle with the partner ends when either pipeline does.
    private var partner: RelayEndHandler?
    private var readCounter: ByteCounter?
    private var session: RelaySession?
    private var pendingRead = false
    private var outputClosing = false
    /// This side closed its channel (an abort, the idle timeout, the session's end), not the peer.
    private var closeAsked = false
    /// The first error seen while holding (a TLS EOF without close_notify, a reset): the session's.
    private var heldError: (any Error)?

    /// Called once when the channel is active (an app's connection dials then: see `Tunnel`).
    private var onActive: ((any Channel) -> Void)?

    public init(onActive: ((any Channel) -> Void)? = nil) {
        self.onActive = onActive
    }

    /// The handler at `channel`'s tail, if it has one. On the loop.
    static func on(_ channel: any Channel) -> RelayEndHandler? {
        try? channel.pipeline.syncOperations.handler(type: RelayEndHandler.self)
    }

    // MARK: Holding

    /// Early data: passes what is held so far, then what is read from now on, to `sink` (on the loop), up
    /// to `limit` bytes exactly; what comes past it waits here, and reading stops until the relay starts.
    /// The end of input stays for the relay.
    public func forward(upTo limit: Int, to sink: @escaping (ByteBuffer) -> Void) {
        self.sink = sink
        sinkBudget = limit
        if var held = buffered, held.readableBytes > 0 {
            buffered = nil
            send(&held)
        }
        if sinkBudget > 0 && !inputClosed {
            context?.read()
        } else {
            context?.channel.stopReading()
        }
    }

    /// The 101 arrived (or the handshake failed): bytes wait here again, for the relay.
    public func stopForwarding() {
        sink = nil
    }

    /// The server that got the early bytes refused them before its 101: they go back in front of what is
    /// held, for the next server (or the relay). Returns how many came back (to uncount). Needs
    /// `keepsForwarded`.
    @discardableResult
    public func rewind() -> Int {
        sink = nil
        guard var copy = forwarded else { return 0 }
        forwarded = nil
        let count = copy.readableBytes
        if let held = buffered { copy.writeImmutableBuffer(held) }
        buffered = copy
        return count
    }

    /// Passes at most the budget's worth to the sink; the rest waits in `buffered` (behind nothing: it is
    /// only called while nothing waits).
    private func send(_ bytes: inout ByteBuffer) {
        guard let sink else { return }
        let count = min(bytes.readableBytes, max(0, sinkBudget))
        if count > 0, let part = bytes.readSlice(length: count) {
            sinkBudget -= count
            if keepsForwarded { keep(part) }
            sink(part)
        }
        if bytes.readableBytes > 0 { buffered = bytes }
    }

    private func keep(_ bytes: ByteBuffer) {
        if forwarded == nil {
            forwarded = bytes
        } else {
            forwarded!.writeImmutableBuffer(bytes)
        }
    }

    private func hold(_ bytes: inout ByteBuffer, context: ChannelHandlerContext) {
        // Forwarding, unless bytes already wait here (past the budget): they must stay in order.
        if sink != nil && (buffered?.readableBytes ?? 0) == 0 {
            send(&bytes)
            if sinkBudget > 0 { context.read() } else { context.channel.stopReading() }
            return
        }
        if buffered == nil {
            buffered = bytes
        } else {
            buffered!.writeBuffer(&bytes)
        }
        // The relay turns reading back on.
        if buffered!.readableBytes > Self.holdLimit { context.channel.stopReading() }
    }

    // MARK: Relaying

    /// Makes this the relay's half towards `partner`; `counter` counts the bytes read on this channel.
    /// Then, on both: `releaseBytes()`, and only then `releaseEnd()` (an end passed on may close the other
    /// channel at once: the bytes held for it must be written first).
    func join(partner: RelayEndHandler, counter: ByteCounter, session: RelaySession) {
        sink = nil
        forwarded = nil
        self.partner = partner
        readCounter = counter
        self.session = session
        if let heldError {
            self.heldError = nil
            session.record(heldError)
        }
    }

    /// Passes on what was held (counted here: it was read on this channel).
    func releaseBytes() {
        guard let bytes = buffered else { return }
        buffered = nil
        guard bytes.readableBytes > 0 else { return }
        readCounter?.add(bytes.readableBytes)
        partner?.partnerWrite(bytes)
        partner?.partnerFlush()
    }

    /// Passes on a held end of input; a channel that closed before the join (its teardown still to come)
    /// tells its partner now, as its `channelInactive` could not.
    func releaseEnd() {
        if context?.channel.isActive != true {
            partner?.partnerInactive()
        } else if inputClosed {
            partner?.partnerInputClosed()
        }
    }

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerWrite(_ data: ByteBuffer) {
        context?.write(NIOAny(data), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWritabilityChanged(_ writable: Bool) {
        if writable, pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    /// The partner's input ended: shut our output after everything queued is written.
    private func partnerInputClosed() {
        guard let context, !outputClosing else { return }
        outputClosing = true
        guard inputClosed else {
            // NIO (and NIOSSL, the WebSocket bridge) shut the output behind what is queued.
            context.flush()
            context.close(mode: .output, promise: nil)
            return
        }
        // Our input ended too: NIO and NIOSSL make a close of the output a full close at once, and what is
        // queued would be dropped. Writes complete in order: an empty one completing means all are out.
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(ByteBuffer()), promise: drained)
        drained.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
    }

    /// The partner's channel is gone, so nothing more will come from it. If our own input already
    /// ended, this is the graceful end of both directions (NIO closes a channel whose two halves are
    /// shut without an `inputClosed` event): finish writing, then shut down. Otherwise it is an abort.
    private func partnerInactive() {
        guard let context else { return }
        if inputClosed {
            partnerInputClosed()
        } else {
            closeAsked = true
            context.close(promise: nil)
        }
    }
}

extension RelayEndHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        onActive = nil
        sink = nil
        forwarded = nil
        partner = nil
        session = nil
        heldError = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if let callback = onActive {
            onActive = nil
            callback(context.channel)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        guard let partner else {
            hold(&bytes, context: context)
            return
        }
        readCounter?.add(bytes.readableBytes)
        partner.partnerWrite(bytes)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if let partner {
            // The peer sent its FIN, this side never shut its output nor closed: the socket went away under
            // a write (the peer closed altogether or died, and its RST came back). NIO closes such a channel
            // without an error event; without this the relay would end as a clean close, the bytes sent
            // after the FIN lost without a word.
            if inputClosed, !outputClosing, !closeAsked { session?.record(RelayPeerLost()) }
            partner.partnerInactive()
        }
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            partner?.partnerInputClosed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let session else {
            if heldError == nil { heldError = error }
            context.fireErrorCaught(error)
            return
        }
        session.record(error)
        closeAsked = true
        context.close(promise: nil)
    }

    /// A close from outside (the session, the idle timeout) passes here on its way to the socket.
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .all: closeAsked = true
        case .output: outputClosing = true
        case .input: break
        }
        context.close(mode: mode, promise: promise)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        partner?.partnerWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    public func read(context: ChannelHandlerContext) {
        guard let partner else {
            context.read()
            return
        }
        if partner.isWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}

/// The peer's socket went away after its FIN while bytes were still going to it.
struct RelayPeerLost: Error, CustomStringConvertible {
    var description: String { "the other end closed while bytes were still going to it" }
}
