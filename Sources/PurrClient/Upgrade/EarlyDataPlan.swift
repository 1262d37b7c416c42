import NIOCore
import PurrCore

/// Early data for one dial: whether the server said before that it keeps bytes sent behind the request
/// head, the app's connection they come from (its `RelayEndHandler`), the counter they count in, and
/// where this 101's answer goes. The bytes come from the app connection's tail (`RelayHandOver.forwardEarlyBytes`). Without a plan the request does not offer early data (`purr stdio`).
public struct EarlyDataPlan: Sendable {
    /// The most sent before the 101; past it, the app's connection waits for the relay.
    public static let limit = 64 * 1024

    /// The server's last 101 carried `Purr-Early-Data: 1`: send the app's bytes as they come.
    public var send: Bool
    /// The app's connection (on the same event loop as the server connection).
    public var local: any Channel
    /// Where the bytes sent early are counted (the connection's bytes up).
    public var counter: ByteCounter
    /// What this server's 101 said.
    public var learned: @Sendable (Bool) -> Void

    public init(send: Bool, local: any Channel, counter: ByteCounter, learned: @escaping @Sendable (Bool) -> Void) {
        self.send = send
        self.local = local
        self.counter = counter
        self.learned = learned
    }
}
