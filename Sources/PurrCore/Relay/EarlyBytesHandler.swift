import NIOCore

/// The one place bytes wait before a relay owns the channel. It sits at the tail of every channel that
/// will be relayed, from the moment the channel exists: whatever reaches the tail before `RelaySession`
/// starts (bytes behind a request head or a 101, forwarded by NIOHTTP1's decoder when it is removed;
/// bytes NIO reads to the end when a FIN arrives even with `autoRead` off) is kept here, with the end of
/// input, and handed to the session.
public final class EarlyBytesHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer

    private(set) var buffered: ByteBuffer?
    private(set) var inputClosed = false

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        if buffered == nil {
            buffered = bytes
        } else {
            buffered!.writeBuffer(&bytes)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
        }
        context.fireUserInboundEventTriggered(event)
    }
}
