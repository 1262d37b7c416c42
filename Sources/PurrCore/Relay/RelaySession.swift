import NIOCore

/// One relayed connection, from both sides: the two channels, the bytes that arrived before the relay
/// (held at each channel's tail: see `RelayHandOver`), backpressure and half-close (`RelayEndHandler`), the idle
/// timeout, the counters, the first error, and one completion with the reason it ended.
///
/// The client's tunnel, the server's upgrade and `purr stdio` each finish their handshake, then hand both
/// channels over to a session and keep nothing of their own. Both channels must share one event loop.
public final class RelaySession {
    /// `a` is the side that asked for the relay (the app's connection on the client, the client's on the
    /// server); `b` the side it was joined to. Bytes read on `a` count in `aCounter`.
    public let a: any Channel
    public let b: any Channel
    let aCounter: ByteCounter
    let bCounter: ByteCounter
    let idleTimeout: TimeAmount?

    private var firstError: (any Error)?
    private var idled = false
    private var started = false
    private let done: EventLoopPromise<CloseReason>

    public init(_ a: any Channel, _ b: any Channel, aCounter: ByteCounter, bCounter: ByteCounter, idleTimeout: TimeAmount? = nil) {
        precondition(a.eventLoop === b.eventLoop, "both sides of a relay must share one event loop")
        self.a = a
        self.b = b
        self.aCounter = aCounter
        self.bCounter = bCounter
        self.idleTimeout = idleTimeout
        self.done = a.eventLoop.makePromise(of: CloseReason.self)
    }

    /// Completes once both channels are closed, with why the relay ended.
    public var closeReason: EventLoopFuture<CloseReason> { done.futureResult }

    /// Takes over both channels (on their event loop): early bytes are passed on and counted, the glue is
    /// installed and reading turned on. If it cannot start, both channels are closed and the reason says why.
    @discardableResult
    public func start() -> EventLoopFuture<CloseReason> {
        a.eventLoop.preconditionInEventLoop()
        precondition(!started, "a relay session starts once")
        started = true
        a.closeFuture.and(b.closeFuture).assumeIsolated().whenComplete { _ in
            self.done.succeed(self.reason)
        }
        do {
            try join()
        } catch {
            record(error)
            a.close(promise: nil)
            b.close(promise: nil)
        }
        return done.futureResult
    }

    private var reason: CloseReason {
        if let failure = firstError as? WebSocketFailure { return failure.closeReason }
        if let firstError { return .error(ConnectFailure.describe(firstError)) }
        if idled, let idleTimeout { return .idle(seconds: Double(idleTimeout.nanoseconds) / 1e9) }
        return .closed
    }

    func record(_ error: any Error) {
        if firstError == nil { firstError = error }
    }

    func idleFired() {
        idled = true
        a.close(promise: nil)
        b.close(promise: nil)
    }

    private func join() throws {
        // Each channel's tail holds its early bytes and becomes its half of the relay (`RelayEndHandler`);
        // a channel made without one (none here so far) gets it now.
        let endA = try Self.end(of: a)
        let endB = try Self.end(of: b)
        if let idleTimeout {
            try a.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout), position: .before(endA))
            try a.pipeline.syncOperations.addHandler(IdleWatcher(session: self), position: .before(endA))
        }
        endA.join(partner: endB, counter: aCounter, session: self)
        endB.join(partner: endA, counter: bCounter, session: self)
        // Early bytes were read on their own side, so they count there. Every held byte is written
        // before any held end of input is passed on: that may close a channel at once.
        endA.releaseBytes()
        endB.releaseBytes()
        endA.releaseEnd()
        endB.releaseEnd()
        for channel in [a, b] where channel.isActive {
            try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            channel.read()
        }
    }

    private static func end(of channel: any Channel) throws -> RelayEndHandler {
        if let end = RelayEndHandler.on(channel) { return end }
        let end = RelayEndHandler()
        try channel.pipeline.syncOperations.addHandler(end)
        return end
    }
}

/// Turns `IdleStateHandler`'s "nothing moved either way" into the session's idle end.
final class IdleWatcher: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private weak var session: RelaySession?

    init(session: RelaySession) {
        self.session = session
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            session?.idleFired()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
