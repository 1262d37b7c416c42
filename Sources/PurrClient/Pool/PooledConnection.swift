import NIOCore

/// A connection to the server that a warm pool made ready (TCP, proxy CONNECT, TLS) and that has not
/// sent a byte of HTTP yet.
struct PooledConnection: Sendable {
    let channel: any Channel
    let made = NIODeadline.now()

    /// Closes a connection that never carried data. Half-closure goes off first: with it on,
    /// swift-nio-ssl (2.37) in its closing state neither finishes on the server's close_notify nor on
    /// its FIN, and holds the connection (and a process exiting) for its 5 s shutdown timeout.
    func close() {
        let channel = self.channel
        channel.eventLoop.execute {
            try? channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            channel.close(promise: nil)
        }
    }
}
