import NIOCore
import NIOHTTP1

/// NIO's outbound header validation for the client's HTTP/1 pipeline, in front of its `HTTPRequestEncoder`:
/// a request head with a byte it should not carry (`HeadValidation.check`) fails its write and every
/// write after it, so nothing of that request reaches the wire. It leaves the pipeline at the flush after
/// the upgrade request (the first head that is not a proxy's CONNECT): what follows is the tunnel's bytes.
public final class RequestHeadCheck: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = HTTPClientRequestPart
    public typealias OutboundOut = HTTPClientRequestPart

    private var refused: HeadValidation.Failure?
    /// The upgrade request has passed: leave at the next flush (not inside `write`: a `writeAndFlush`
    /// would lose its flush on a context that has left).
    private var leaving = false

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let refused {
            promise?.fail(refused)
            return
        }
        guard case .head(let head) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        do {
            try HeadValidation.check(head)
        } catch {
            refused = error
            promise?.fail(error)
            context.fireErrorCaught(error)
            return
        }
        context.write(data, promise: promise)
        if head.method != .CONNECT { leaving = true }
    }

    public func flush(context: ChannelHandlerContext) {
        context.flush()
        if leaving {
            leaving = false
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

@available(*, unavailable)
extension RequestHeadCheck: Sendable {}
