import NIOCore

/// One half of a relay: reads on its channel become writes on the partner's (NIO's connect-proxy pattern).
///
/// Backpressure: a read is only requested while the partner is writable, so a slow reader on one side
/// stops reading on the other and nothing buffers past the partner's write high-water mark.
/// Half-close: end of input here shuts the partner's output once its queued bytes are written.
final class GlueHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosing = false
    /// This side closed its channel (an abort, the idle timeout, the session's end), not the peer.
    private var closeAsked = false
    private let readCounter: ByteCounter
    /// Where the first error on either side is reported (a reset, a timeout). The cycle ends when the pipeline does.
    private let session: RelaySession

    init(readCounter: ByteCounter, session: RelaySession) {
        self.readCounter = readCounter
        self.session = session
    }

    /// Two handlers that feed each other; `aCounter` counts bytes read on A's channel.
    static func matchedPair(aCounter: ByteCounter, bCounter: ByteCounter, session: RelaySession) -> (GlueHandler, GlueHandler) {
        let a = GlueHandler(readCounter: aCounter, session: session)
        let b = GlueHandler(readCounter: bCounter, session: session)
        a.partner = b
        b.partner = a
        return (a, b)
    }

    /// The handshake saw this side's end of input before the relay began.
    func inputClosedBeforeJoin() {
        inputClosed = true
        partner?.partnerInputClosed()
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
        // Writes complete in order, so an empty write completing means all earlier bytes are out.
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

extension GlueHandler: ChannelDuplexHandler {
    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        readCounter.add(buffer.readableBytes)
        partner?.partnerWrite(buffer)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        // The peer sent its FIN, this side never shut its output nor closed: the socket went away under a
        // write (the peer closed altogether or died, and its RST came back). NIO closes such a channel
        // without an error event; without this the relay would end as a clean close, the bytes sent
        // after the FIN lost without a word.
        if inputClosed, !outputClosing, !closeAsked { session.record(RelayPeerLost()) }
        partner?.partnerInactive()
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
        if let partner, partner.isWritable {
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
