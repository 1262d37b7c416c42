import NIOCore

/// Calls back once its channel is active, then leaves the pipeline. A child channel's initializer runs
/// before the channel is registered, and (when the acceptor runs on another event loop) other tasks
/// can run on the child's loop in between; a dial started from the initializer could finish its upgrade
/// while the local channel is not yet active, and the connection would be dropped without a word.
final class ActiveHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var onActive: ((any Channel) -> Void)?

    init(onActive: @escaping (any Channel) -> Void) {
        self.onActive = onActive
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        let callback = onActive
        onActive = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        callback?(context.channel)
    }
}
