import NIOCore
import PurrCore

/// Speaks a dynamic tunnel's proxy protocol on an accepted connection (`ProxyFront`) until the request
/// names its target, then hands the target to `onRequest` and the bytes behind the request to the
/// `RelayEndHandler` after it (early data, or held for the relay). `answer` sends the protocol's reply
/// once the server answered, then leaves the pipeline (or closes the connection on a failure).
final class ProxyFrontHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Seconds an app has to send a whole request (as a server's header timeout).
    static let requestTimeout = TimeAmount.seconds(30)

    private var front: ProxyFront
    private var buffer = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private let timeout: TimeAmount
    /// Once: the request the app made.
    private var onRequest: ((any Channel, ProxyFront.Request) -> Void)?
    /// A request refused here, before any dial: the reason, for the log.
    private let onRefused: (String) -> Void
    /// A plain HTTP request: the bytes of its body still to pass; whatever the app sends after them is
    /// dropped (the handler stays for that). nil: everything passes.
    private var bodyLeft: Int?

    init(
        mode: TunnelMode, credentials: ProxyFront.Credentials?, timeout: TimeAmount = ProxyFrontHandler.requestTimeout,
        onRequest: @escaping (any Channel, ProxyFront.Request) -> Void, onRefused: @escaping (String) -> Void
    ) {
        self.front = ProxyFront(mode: mode, credentials: credentials)
        self.timeout = timeout
        self.onRequest = onRequest
        self.onRefused = onRefused
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { startTimer(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context)
        context.fireChannelActive()
    }

    private func startTimer(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let seconds = timeout.nanoseconds / 1_000_000_000
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            guard self.onRequest != nil else { return }
            self.refuse(context, nil, reason: "no complete proxy request within \(seconds) s")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard onRequest != nil else {
            // Dialing or relaying: the app's bytes go on (to the `RelayEndHandler`, then the relay).
            guard bodyLeft != nil else {
                context.fireChannelRead(data)
                return
            }
            var bytes = unwrapInboundIn(data)
            passBody(context, &bytes)
            return
        }
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        while onRequest != nil {
            switch front.read(&buffer) {
            case .needMore:
                return
            case .write(let reply):
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            case .refuse(let reply, let reason):
                refuse(context, reply, reason: reason)
                return
            case .connect(let request):
                timer?.cancel()
                let callback = onRequest
                onRequest = nil
                if let first = request.firstBytes { context.fireChannelRead(wrapInboundOut(first)) }
                bodyLeft = request.bodyLength
                if bodyLeft != nil {
                    passBody(context, &buffer)
                } else if buffer.readableBytes > 0 {
                    context.fireChannelRead(wrapInboundOut(buffer))
                }
                buffer = ByteBuffer()
                callback?(context.channel, request)
                return
            }
        }
    }

    /// Passes what is left of a plain request's body; drops what comes after it (a pipelined request).
    private func passBody(_ context: ChannelHandlerContext, _ bytes: inout ByteBuffer) {
        guard let left = bodyLeft, left > 0, bytes.readableBytes > 0 else { return }
        let count = min(left, bytes.readableBytes)
        bodyLeft = left - count
        if let slice = bytes.readSlice(length: count) { context.fireChannelRead(wrapInboundOut(slice)) }
    }

    private func refuse(_ context: ChannelHandlerContext, _ reply: ByteBuffer?, reason: String) {
        onRequest = nil
        timer?.cancel()
        onRefused(reason)
        guard let reply else {
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if onRequest != nil, let event = event as? ChannelEvent, case .inputClosed = event {
            // The app stopped sending before its request was whole.
            onRequest = nil
            timer?.cancel()
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onRequest = nil
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// The server's answer for the request: the protocol's reply; then this handler leaves (connected) or
    /// the connection closes once the reply is written. On the channel's loop.
    func answer(_ outcome: DialOutcome) {
        guard let context else { return }
        let reply = front.answered(outcome, bound: context.channel.localAddress)
        if outcome == .connected {
            if let reply { context.writeAndFlush(wrapOutboundOut(reply), promise: nil) }
            // A plain request's handler stays to keep a pipelined next request from this target.
            if bodyLeft == nil { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
            return
        }
        guard let reply else {
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
