import NIOCore

/// Closes a relayed connection once `IdleStateHandler` says nothing moved either way for too long.
public final class IdleCloseHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    let onIdle: () -> Void

    public init(onIdle: @escaping () -> Void) {
        self.onIdle = onIdle
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            onIdle()
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
