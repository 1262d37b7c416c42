import NIOCore

/// Where a connection's bytes wait before a relay owns it, and the hand-over from its handshake's
/// handlers to the `RelaySession`: the one place both ends (the server's upgrade, the client's
/// handshake) put these handlers in and take them out. The only code that knows `HandshakeGate` and
/// `RelayEndHandler`'s holding side.
///
/// Where bytes wait:
/// 1. Every channel that will be relayed has a `RelayEndHandler` at its tail from the moment it exists
///    (`install`, `holdEarlyBytes(on:)`). Whatever reaches the tail before the relay starts waits there
///    with the end of input; past `holdLimit` bytes, reading stops until the relay turns it on again.
/// 2. Server, while the request head is read: the `HandshakeGate` in front of NIOHTTP1's decoder bounds the
///    head; once the head is accepted, the bytes behind it wait in the decoder (the gate stops reading past
///    `holdLimit`) and the end of input waits in the gate (the decoder would drop its leftovers on it);
///    after a refusal (`refused()`), every byte is dropped in the gate.
/// 3. Client: the handshake handler reads the answers raw; the bytes behind the 101 are its `leftovers`.
///    While the 101 is awaited, the app's bytes may go to the server as early data (`forwardEarlyBytes`):
///    from the app's `RelayEndHandler`, up to a limit; at the 101 they wait there again.
/// 4. The hand-over (`complete`), in this order: a WebSocket bridge goes in front of the `RelayEndHandler`
///    (its own frames held); the leftovers are passed on (through the bridge, decoded as frames); the
///    handshake handler leaves; the decoder leaves (its leftovers follow the same way); the gate passes on
///    a held end of input and leaves; the bridge starts writing (NIO's decoder traps on a write that is
///    not HTTP, so not before). Then the relay: `RelaySession` joins the two channels' `RelayEndHandler`s,
///    which pass on what they held and relay from then on (no handler is added or removed for it).
public final class RelayHandOver {
    /// A head grew past its limit without ending (the gate's error).
    public typealias HeadTooLarge = HandshakeGate.HeadTooLarge

    /// The most bytes held before a relay starts; past it reading stops.
    public static let holdLimit = RelayEndHandler.holdLimit

    /// WebSocket framing to start at the hand-over.
    public struct WebSocket {
        public var role: WebSocketFrameBridge.Role
        public var options: WebSocketFrameBridge.Options

        public init(role: WebSocketFrameBridge.Role, options: WebSocketFrameBridge.Options) {
            self.role = role
            self.options = options
        }
    }

    private let gate: HandshakeGate?
    private var decoder: (any RemovableChannelHandler)?

    private init(gate: HandshakeGate?, decoder: (any RemovableChannelHandler)?) {
        self.gate = gate
        self.decoder = decoder
    }

    /// The server's handlers for one accepted connection, in order: the gate (bounding the head at
    /// `headLimit`), `decoder`, the handshake handler made for this hand-over, the `RelayEndHandler`.
    public static func install(
        on channel: any Channel, headLimit: Int, decoder: any ChannelHandler & RemovableChannelHandler,
        handshake: (RelayHandOver) -> any ChannelHandler
    ) throws {
        let gate = HandshakeGate(limit: headLimit)
        let handOver = RelayHandOver(gate: gate, decoder: decoder)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(gate)
        try operations.addHandler(decoder)
        try operations.addHandler(handshake(handOver))
        try operations.addHandler(RelayEndHandler())
    }

    /// The client's handlers for one server connection: the handshake handler (which reads raw bytes),
    /// the `RelayEndHandler`.
    public static func install(on channel: any Channel, handshake: (RelayHandOver) -> any ChannelHandler) throws {
        let handOver = RelayHandOver(gate: nil, decoder: nil)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(handshake(handOver))
        try operations.addHandler(RelayEndHandler())
    }

    /// A channel that will be relayed without a handshake of its own (a target, an app's connection,
    /// standard input): its bytes wait at its tail. `onActive`: called once when the channel is active
    /// (by the same handler: nothing is added and removed for it).
    public static func holdEarlyBytes(on channel: any Channel, onActive: ((any Channel) -> Void)? = nil) throws {
        try channel.pipeline.syncOperations.addHandler(RelayEndHandler(onActive: onActive))
    }

    /// Called once, when the first bytes arrive (the server starts its header timeout then).
    public var onFirstBytes: (() -> Void)? {
        get { gate?.onFirstBytes }
        set { gate?.onFirstBytes = newValue }
    }

    /// The head is complete: accepted, bytes behind it and the end of input are held for the relay.
    public func headAccepted() {
        gate?.headComplete(accepted: true)
    }

    /// The request was refused: nothing reaches the decoder any more; reading goes on and is dropped, so
    /// the answer is not lost to a reset when the connection closes on unread input.
    public func refused() {
        gate?.headComplete(accepted: false)
        gate?.discard()
    }

    /// Takes the handshake's handlers out (see the type's comment for the order) and calls `then` once the
    /// channel is ready for a `RelaySession` (on its loop). `context`: the handshake handler's.
    /// `leftovers`: bytes the handshake handler read behind its head. A failure to start WebSocket framing
    /// is passed to `then`; the caller closes.
    public func complete(
        from context: ChannelHandlerContext, leftovers: ByteBuffer? = nil, webSocket: WebSocket? = nil,
        then: @escaping (Result<Void, any Error>) -> Void
    ) {
        let operations = context.pipeline.syncOperations
        var bridge: WebSocketFrameBridge?
        if let webSocket {
            do {
                // In front of the RelayEndHandler: the bytes that came behind the handshake are frames too.
                let early = try? operations.handler(type: RelayEndHandler.self)
                bridge = try WebSocketFrameBridge.install(
                    on: context.channel, role: webSocket.role, options: webSocket.options,
                    position: early.map { .before($0) } ?? .last, holdingWrites: true)
            } catch {
                then(.failure(error))
                return
            }
        }
        if let leftovers, leftovers.readableBytes > 0 { context.fireChannelRead(NIOAny(leftovers)) }
        operations.removeHandler(context: context, promise: nil)
        let removed = context.eventLoop.makePromise(of: Void.self)
        if let decoder { operations.removeHandler(decoder, promise: removed) } else { removed.succeed() }
        decoder = nil
        let gate = self.gate
        removed.futureResult.assumeIsolated().whenComplete { _ in
            bridge?.startWriting()
            gate?.release()
            then(.success(()))
        }
    }

    /// Early data: passes the bytes held on `channel` (an app's connection) to `sink`, then those read from
    /// now on, up to `limit`; past it, reading stops. nil: nothing holds bytes there. On the loop.
    public static func forwardEarlyBytes(
        of channel: any Channel, upTo limit: Int, to sink: @escaping (ByteBuffer) -> Void
    ) -> EarlyForwarding? {
        guard let held = RelayEndHandler.on(channel) else { return nil }
        held.forward(upTo: limit, to: sink)
        return EarlyForwarding(held: held)
    }

    /// Several servers: what goes out early from `channel` (an app's connection) is also kept until the
    /// 101, so an attempt that fails before it can give every byte back for the next server.
    public static func keepForwardedEarlyBytes(on channel: any Channel) {
        RelayEndHandler.on(channel)?.keepsForwarded = true
    }

    /// A failed attempt: the early bytes kept for it go back in front of what waits on `channel`; returns
    /// how many.
    public static func rewindEarlyBytes(on channel: any Channel) -> Int {
        RelayEndHandler.on(channel)?.rewind() ?? 0
    }

    /// A channel that will not be relayed after all (a health probe on a pooled connection): its holder leaves.
    public static func dropEarlyBytesHolder(on channel: any Channel) {
        let operations = channel.pipeline.syncOperations
        if let held = try? operations.handler(type: RelayEndHandler.self) { operations.removeHandler(held, promise: nil) }
    }

    /// Early bytes going to the server; `stop()` at the 101 or a failure, and they wait for the relay again.
    public struct EarlyForwarding {
        let held: RelayEndHandler

        public func stop() {
            held.stopForwarding()
        }
    }
}

@available(*, unavailable)
extension RelayHandOver: Sendable {}

@available(*, unavailable)
extension RelayHandOver.EarlyForwarding: Sendable {}
