import NIOCore

/// The one place bytes wait before a relay owns the channel. It sits at the tail of every channel that
/// will be relayed, from the moment the channel exists: whatever reaches the tail before `RelaySession`
/// starts (bytes behind a request head or a 101, forwarded by NIOHTTP1's decoder when it is removed;
/// bytes NIO reads to the end when a FIN arrives even with `autoRead` off) is kept here, with the end of
/// input, and handed to the session.
///
/// Reading need not be turned off while a handshake finishes (two `epoll_ctl` calls per connection): what
/// is held is bounded instead. Past `holdLimit` bytes, reading stops until the relay turns it back on.
public final class EarlyBytesHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer

    /// The most held before reading stops (one read of NIO's may overshoot it by its buffer sizes).
    public static let holdLimit = 64 * 1024

    private(set) var buffered: ByteBuffer?
    private(set) var inputClosed = false
    private var context: ChannelHandlerContext?
    /// Early data: while set, what is read goes straight to it (the server connection, before its 101).
    private var sink: ((ByteBuffer) -> Void)?
    private var sinkBudget = 0
    /// A tunnel with several servers: keep a copy of what went to the sink, so that a server that refuses
    /// before its 101 costs the app no byte (`rewind`). Off: nothing is copied (one server).
    public var keepsForwarded = false
    private var forwarded: ByteBuffer?

    public init() {}

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

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        sink = nil
        forwarded = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
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

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
        }
        context.fireUserInboundEventTriggered(event)
    }
}
