import NIOCore
import NIOSSL
import NIOWebSocket

/// Turns a WebSocket connection into the byte stream the relay's glue expects. NIOWebSocket's decoder and
/// encoder do the framing; this handler keeps RFC 6455's rules:
///
/// - binary and text messages become bytes, fragments in order (a message over `maxMessage` closes with
///   1009); bytes from the glue become binary frames, masked when we are the client;
/// - ping is answered with pong, within backpressure: while the channel is not writable at most one pong
///   waits (the latest ping's, as RFC 6455 5.5.3 allows) and reading stops until it is written, so a peer
///   that pings and never reads cannot grow us; a client pings every `pingInterval` and ends the connection when the
///   pong does not come back within it;
/// - a close frame is the end of input (`ChannelEvent.inputClosed`) for the glue, and the glue's
///   `close(mode: .output)` becomes our close frame; the connection closes once both have been sent;
/// - an unmasked client frame, a masked server frame, a reserved bit or opcode close with 1002.
///
/// `read()` passes through (noted for the ping check): backpressure stays the glue's.
///
/// Pipeline: [TLS] WebSocketFrameDecoder, WebSocketFrameEncoder, this, EarlyBytesHandler or GlueHandler.
public final class WebSocketFrameBridge {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = WebSocketFrame

    public enum Role: Sendable {
        case server
        case client
    }

    public struct Options: Sendable {
        /// Largest frame, and largest message once its fragments are added up.
        public var maxMessage: Int
        /// How often a client pings; nil: never.
        public var pingInterval: TimeAmount?

        public static let defaultMaxMessage = 1 << 20
        /// A client takes larger frames from its server: a server's frame holds up to one read of its target.
        public static let clientMaxMessage = 16 << 20

        public init(maxMessage: Int = Options.defaultMaxMessage, pingInterval: TimeAmount? = nil) {
            self.maxMessage = maxMessage
            self.pingInterval = pingInterval
        }
    }

    /// How long a peer that broke the rules may take to read our close frame and go, before we hang up.
    static let linger = TimeAmount.seconds(2)

    private let role: Role
    private let options: Options
    private var inMessage = false
    private var messageBytes = 0
    private var closeReceived = false
    private var closeSent = false
    private var failed = false
    private var awaitingPong = false
    /// Something came in since the last ping went out.
    private var inboundSincePing = false
    /// The glue asked to read and nothing has come since: a peer that says nothing now is silent, not
    /// merely held back by our own backpressure.
    private var readDemand = false
    /// The latest ping's payload, waiting for the channel to become writable.
    private var pendingPong: ByteBuffer?
    /// A read asked for while a pong waits: passed on once it is written.
    private var heldRead = false
    private var pingTask: Scheduled<Void>?
    private var lingerTask: Scheduled<Void>?

    public init(role: Role, options: Options) {
        self.role = role
        self.options = options
    }

    /// Adds decoder, encoder and bridge to an upgraded channel, in front of its `EarlyBytesHandler` (so the
    /// bytes that came behind the handshake are decoded too). Call on the channel's event loop.
    public static func install(on channel: any Channel, role: Role, options: Options) throws {
        let operations = channel.pipeline.syncOperations
        let bridge = WebSocketFrameBridge(role: role, options: options)
        var handlers: [any ChannelHandler] = [
            ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: options.maxMessage)),
            WebSocketFrameEncoder(),
            bridge,
        ]
        // Bytes of a frame still arriving count as a live peer too (a large frame on a slow link).
        if options.pingInterval != nil { handlers.insert(InboundTap { bridge.noteInbound() }, at: 0) }
        if let early = try? operations.handler(type: EarlyBytesHandler.self) {
            try operations.addHandlers(handlers, position: .before(early))
        } else {
            try operations.addHandlers(handlers)
        }
    }

    private func frame(_ opcode: WebSocketOpcode, _ data: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: opcode, maskKey: role == .client ? .random() : nil, data: data)
    }

    private func sendClose(_ code: WebSocketErrorCode, _ words: String, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        closeSent = true
        stopPinging()
        var data = context.channel.allocator.buffer(capacity: 2 + words.utf8.count)
        data.write(webSocketErrorCode: code)
        // A control frame carries at most 125 bytes.
        data.writeString(String(words.utf8.prefix(100)) ?? "")
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(frame(.connectionClose, data)), promise: promise)
        return promise.futureResult
    }

    /// A broken rule: a close frame with its code, our write side shut, and the glue told why. The peer
    /// gets a moment to read the close frame before the socket goes (closing on unread input resets it).
    private func fail(_ failure: WebSocketFailure, context: ChannelHandlerContext) {
        guard !failed else { return }
        failed = true
        if !closeSent {
            sendClose(failure.code, failure.words, context: context).assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
            }
        }
        lingerTask = context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) {
            context.close(promise: nil)
        }
        context.fireErrorCaught(failure)
    }

    private func deliver(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        messageBytes += frame.length
        guard messageBytes <= options.maxMessage else {
            fail(.tooLarge("message larger than \(options.maxMessage) bytes"), context: context)
            return
        }
        inMessage = !frame.fin
        let data = frame.maskKey.map { WebSocketMasking.unmasked(frame.data, key: $0) } ?? frame.data
        if data.readableBytes > 0 { context.fireChannelRead(Self.wrapInboundOut(data)) }
    }

    /// The peer's close frame, or its end of input without one.
    private func peerClosed(context: ChannelHandlerContext) {
        guard !closeReceived else { return }
        closeReceived = true
        stopPinging()
        if closeSent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
    }

    private func startPinging(context: ChannelHandlerContext) {
        guard role == .client, let interval = options.pingInterval, pingTask == nil else { return }
        schedulePing(in: interval, context: context)
    }

    /// One ping per interval. A pong still missing when the next is due ends the connection, unless
    /// the pong may simply be queued behind data: bytes are still arriving, or we are not reading
    /// (a slow app holds the relay back); then the check waits another interval.
    private func schedulePing(in interval: TimeAmount, context: ChannelHandlerContext) {
        pingTask = context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
            self.pingTask = nil
            guard !self.failed, !self.closeSent, !self.closeReceived else { return }
            if self.awaitingPong {
                if !self.inboundSincePing && self.readDemand {
                    self.fail(.pingTimeout(seconds: Double(interval.nanoseconds) / 1e9), context: context)
                    return
                }
            } else {
                self.awaitingPong = true
                context.writeAndFlush(Self.wrapOutboundOut(self.frame(.ping, ByteBuffer(string: "purr"))), promise: nil)
            }
            self.inboundSincePing = false
            self.schedulePing(in: interval, context: context)
        }
    }

    /// Bytes came in (before the decoder has a whole frame).
    func noteInbound() {
        inboundSincePing = true
        readDemand = false
    }

    private func stopPinging() {
        pingTask?.cancel()
        pingTask = nil
    }
}

extension WebSocketFrameBridge: ChannelDuplexHandler {
    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startPinging(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stopPinging()
        lingerTask?.cancel()
    }

    public func channelActive(context: ChannelHandlerContext) {
        startPinging(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stopPinging()
        lingerTask?.cancel()
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        noteInbound()
        let frame = Self.unwrapInboundIn(data)
        // Nothing counts after a violation or the peer's close frame (RFC 6455 5.5.1).
        guard !failed, !closeReceived else { return }
        guard frame.reservedBits.isEmpty else {
            return fail(.protocolError("reserved bit set without an extension"), context: context)
        }
        switch (role, frame.maskKey) {
        case (.server, nil): return fail(.protocolError("unmasked client frame"), context: context)
        case (.client, .some): return fail(.protocolError("masked server frame"), context: context)
        default: break
        }
        switch frame.opcode {
        case .binary, .text:
            guard !inMessage else { return fail(.protocolError("new message before the last one ended"), context: context) }
            messageBytes = 0
            deliver(frame, context: context)
        case .continuation:
            guard inMessage else { return fail(.protocolError("continuation frame outside a message"), context: context) }
            deliver(frame, context: context)
        case .ping:
            guard !closeSent else { return }
            let payload = frame.maskKey == nil ? frame.data : frame.unmaskedData
            if context.channel.isWritable && pendingPong == nil {
                context.writeAndFlush(Self.wrapOutboundOut(self.frame(.pong, payload)), promise: nil)
            } else {
                pendingPong = payload  // replaces an older one: only the latest ping needs its pong
            }
        case .pong:
            awaitingPong = false
        case .connectionClose:
            peerClosed(context: context)
        default:
            fail(.protocolError("reserved opcode \(frame.opcode)"), context: context)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            if failed {
                context.close(promise: nil)
            } else {
                peerClosed(context: context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a violation the decoder complains about every byte still coming; the close is under way.
        if failed { return }
        // The peer's close frame already ended the stream; a TLS peer that then hangs up without
        // close_notify (common) cut nothing off.
        if closeReceived, let tls = error as? NIOSSLError, case .uncleanShutdown = tls { return }
        if let decoding = error as? NIOWebSocketError {
            fail(.decoding(decoding, limit: options.maxMessage), context: context)
            return
        }
        context.fireErrorCaught(error)
    }

    public func read(context: ChannelHandlerContext) {
        readDemand = true
        // A pong waits for the peer to read: read nothing more from it meanwhile.
        guard pendingPong == nil else {
            heldRead = true
            return
        }
        context.read()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let payload = pendingPong {
            pendingPong = nil
            if !closeSent { context.writeAndFlush(Self.wrapOutboundOut(frame(.pong, payload)), promise: nil) }
            if heldRead {
                heldRead = false
                context.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = Self.unwrapOutboundIn(data)
        // The glue's empty write marks "all earlier bytes written": our close frame queues behind them anyway.
        guard bytes.readableBytes > 0 else {
            promise?.succeed(())
            return
        }
        guard !closeSent else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(Self.wrapOutboundOut(frame(.binary, bytes)), promise: promise)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            // The glue's end of input from the other side: our close frame, then the socket once both are sent.
            guard !closeSent, !failed else {
                promise?.succeed(())
                return
            }
            let sent = sendClose(.normalClosure, "", context: context)
            if closeReceived {
                sent.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
            promise?.succeed(())
        case .all where failed:
            // Held until the peer has had its moment to read our close frame.
            context.channel.closeFuture.cascade(to: promise)
        case .all:
            // The other side of the relay is gone (reset, idle): say so before hanging up.
            if !closeSent, context.channel.isActive {
                _ = sendClose(.goingAway, "", context: context)
            }
            context.close(mode: mode, promise: promise)
        default:
            context.close(mode: mode, promise: promise)
        }
    }
}

/// Tells the bridge that bytes arrived, in front of the frame decoder.
final class InboundTap: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let seen: () -> Void

    init(_ seen: @escaping () -> Void) {
        self.seen = seen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        seen()
        context.fireChannelRead(data)
    }
}
