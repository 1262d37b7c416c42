import NIOCore

/// Sits in front of NIOHTTP1's decoder while a head is read, for what the decoder does not do for us:
///
/// - a limit on the whole head (request line included): past it without a complete head, the channel
///   gets `HeadTooLarge` as an error;
/// - the end of input is held back once the head is accepted. NIO's decoder drops bytes it holds behind
///   an upgrade head when the input ends (it forwards leftovers only on removal), so the FIN waits here
///   until the decoder is gone and its leftovers have reached the `RelayEndHandler`; `release()` then
///   passes it on and leaves the pipeline;
/// - a bound on the bytes behind an accepted head, which the decoder keeps until it leaves: past
///   `RelayEndHandler.holdLimit`, reading stops (the relay turns it back on);
/// - after a refusal, every byte is dropped here: the decoder has taken the request as an upgrade and
///   would buffer whatever follows for as long as we linger, so a refused client could fill memory.
public final class HandshakeGate: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// A head grew past the limit without ending.
    public struct HeadTooLarge: Error, CustomStringConvertible {
        public let limit: Int

        public init(limit: Int) {
            self.limit = limit
        }

        public var description: String { "request head larger than \(limit) bytes" }
    }

    private enum State {
        case counting(Int)
        /// `behind`: bytes read after the accepted head, held by the decoder until it leaves.
        case holding(inputClosed: Bool, behind: Int)
        case released
        /// Refused: read and dropped until the connection closes.
        case discarding
    }

    private let limit: Int
    /// Called once, when the first bytes arrive (the server starts its header timeout then).
    public var onFirstBytes: (() -> Void)?
    private var state = State.counting(0)
    private var context: ChannelHandlerContext?

    public init(limit: Int = PurrWire.maxHeadSize) {
        self.limit = limit
    }

    /// The head is complete: stop counting; when it was accepted, hold back the end of input.
    public func headComplete(accepted: Bool) {
        guard case .counting = state else { return }
        state = accepted ? .holding(inputClosed: false, behind: 0) : .released
    }

    /// The request was refused: from now on nothing reaches the decoder. Reading goes on (and is dropped)
    /// so the answer is not lost to a reset when the connection closes on unread input.
    public func discard() {
        state = .discarding
    }

    /// The decoder is gone: pass on a held end of input and leave.
    public func release() {
        guard let context else { return }
        let held: Bool
        if case .holding(let inputClosed, _) = state { held = inputClosed } else { held = false }
        state = .released
        if held { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .discarding = state { return }
        if case .holding(let inputClosed, let behind) = state {
            let total = behind + Self.unwrapInboundIn(data).readableBytes
            state = .holding(inputClosed: inputClosed, behind: total)
            context.fireChannelRead(data)
            if total > RelayEndHandler.holdLimit { context.channel.stopReading() }
            return
        }
        guard case .counting(let seen) = state else {
            context.fireChannelRead(data)
            return
        }
        let total = seen + Self.unwrapInboundIn(data).readableBytes
        if seen == 0, total > 0, let first = onFirstBytes {
            onFirstBytes = nil
            first()
        }
        state = .counting(total)
        context.fireChannelRead(data)
        // The decoder has seen these bytes now; a complete head would have moved us on.
        if case .counting = state, total > limit {
            state = .released
            context.fireErrorCaught(HeadTooLarge(limit: limit))
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event, case .holding(_, let behind) = state {
            state = .holding(inputClosed: true, behind: behind)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
