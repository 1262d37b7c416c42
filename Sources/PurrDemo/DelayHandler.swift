import NIOCore

/// Passes what it reads to `peer` after `delay`; closes the peer when this side ends.
final class DelayHandler: Sendable {
    typealias InboundIn = ByteBuffer
    let peer: any Channel
    let delay: TimeAmount

    init(peer: any Channel, delay: TimeAmount) {
        self.peer = peer
        self.delay = delay
    }
}

extension DelayHandler: ChannelInboundHandler {
    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Self.unwrapInboundIn(data)
        let peer = self.peer
        context.eventLoop.scheduleTask(in: delay) { peer.writeAndFlush(bytes, promise: nil) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let peer = self.peer
        context.eventLoop.scheduleTask(in: delay) { peer.close(promise: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
