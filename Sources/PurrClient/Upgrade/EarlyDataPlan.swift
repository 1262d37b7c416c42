import NIOCore

/// Early data for one dial: whether the server said before that it keeps bytes sent behind the request
/// head, where the app's first bytes are taken from, and where the answer of this 101 goes. Without a
/// plan the request does not offer early data (`purr stdio`, the original protocol's exact bytes).
public struct EarlyDataPlan: Sendable {
    /// The server's last 101 carried `Purr-Early-Data: 1`: send what the app has sent so far.
    public var send: Bool
    /// The app's bytes so far (called on the connection's event loop, once the request head is written).
    public var take: @Sendable () -> ByteBuffer?
    /// What this server's 101 said.
    public var learned: @Sendable (Bool) -> Void

    public init(send: Bool, take: @escaping @Sendable () -> ByteBuffer?, learned: @escaping @Sendable (Bool) -> Void) {
        self.send = send
        self.take = take
        self.learned = learned
    }
}
