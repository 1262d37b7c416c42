import NIOCore

/// A connection to the server that a warm pool made ready (TCP, proxy CONNECT, TLS) and that has not
/// sent a byte of HTTP yet; its handshake handler takes the request (`ServerDialer.send(on:)`).
struct PooledConnection: Sendable {
    let channel: any Channel
    let handler: NIOLoopBound<ClientHandshakeHandler>
    let made = NIODeadline.now()

    init(channel: any Channel, handler: ClientHandshakeHandler) {
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
    }

    /// Closes a connection that never carried data (its handler knows how: see `retire`).
    func close() {
        let handler = self.handler
        let channel = self.channel
        channel.eventLoop.execute {
            handler.value.retire()
        }
    }
}
