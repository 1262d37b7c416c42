import NIOCore

/// A connection to the server that a warm pool made ready (TCP, proxy CONNECT, TLS) and that has not
/// sent a byte of HTTP yet.
struct PooledConnection: Sendable {
    let channel: any Channel
    let made = NIODeadline.now()
}
