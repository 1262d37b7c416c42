import NIOCore

/// Holds what a channel reads before its relay exists. Even with `autoRead` off, NIO reads a socket
/// to its end when the peer's FIN arrives, so bytes and the end-of-input can come early; without this
/// they would fall off the pipeline's tail. `Relay.join` takes them over.
public final class ReadAheadHandler: ChannelInboundHandler, RemovableChannelHandler {
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
