import NIOCore

/// Out of file descriptors, accept() fails while the pending connection stays queued, so a listener
/// that simply reads again spins at full CPU. NIO's future-based `ServerBootstrap.bind` adds no
/// backoff of its own: every listener of ours pauses accepting for a second after an accept error.
public enum AcceptBackoff {
    /// Adds the pause to a listening channel; the error still reaches handlers added after it (to be logged).
    public static func install(on channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler(shouldForwardIOErrorCaught: true))
        }
    }
}
