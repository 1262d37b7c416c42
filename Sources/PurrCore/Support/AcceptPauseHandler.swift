import NIOCore

/// Out of file descriptors, accept() fails while the pending connection stays queued, so the listening
/// socket stays readable. NIO's ServerSocketChannel keeps it registered after a failed accept (its
/// read stays pending), so neither a plain `bind` nor NIO's `AcceptBackoffHandler` (which delays the
/// next `read()`, never issued here) stops it retrying in a busy loop: measured 10 000 failed
/// `accept4` calls a second. This handler turns `autoRead` off for a second after an accept error
/// (which unregisters the socket), then on again. The error goes on to be logged.
public final class AcceptPauseHandler: ChannelInboundHandler, Sendable {
    public typealias InboundIn = any Channel
    public static let pause: TimeAmount = .seconds(1)

    public init() {}

    /// Adds the handler to a listening channel (for `serverChannelInitializer`).
    public static func install(on channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(AcceptPauseHandler())
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is IOError, context.channel.stopReading() {
            let channel = context.channel
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) {
                if channel.isActive { try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true) }
            }
        }
        context.fireErrorCaught(error)
    }
}
