import NIOCore
import NIOSSL
import NIOWebSocket

/// Turns a WebSocket connection into the byte stream the relay expects, and back. Frames are read
/// by `WebSocketFrameParser` as they stream (a payload is passed on piece by piece as it arrives, unmasked
/// in the same pass, never gathered whole) and written by `WebSocketFrameWriter` (a client masks while it
/// copies behind the header; a server sends the relay's buffer as it is). This handler keeps RFC 6455's rules:
///
/// - binary and text messages become bytes, fragments in order (a message over `maxMessage` closes with
///   1009); each buffer from the relay becomes one binary frame (a frame per read), masked when we are the client;
/// - ping is answered with pong, within backpressure: while the channel is not writable at most one pong
///   waits (the latest ping's, as RFC 6455 5.5.3 allows) and reading stops until it is written, so a peer
///   that pings and never reads cannot grow us; a client pings every `pingInterval` and ends the connection when the
///   pong does not come back within it;
/// - a close frame is the end of input (`ChannelEvent.inputClosed`) for the relay, and the relay's
///   `close(mode: .output)` becomes our close frame; the connection closes once both have been sent;
/// - an unmasked client frame, a masked server frame, a reserved bit or opcode close with 1002.
///
/// `read()` passes through (noted for the ping check): backpressure stays the relay's.
///
/// Pipeline: [TLS] this, then what holds early bytes (`RelayHandOver`) or the relay's half (`RelayEndHandler`).
public final class WebSocketFrameBridge {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

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

    /// A server's payload up to this size is copied behind its header rather than sent beside it.
    static let copiedPayload = 4096

    /// Frames read in one go before the event loop's other connections get their turn.
    public static let framesPerTurn = 1024

    /// How long a peer that broke the rules may take to read our close frame and go, before we hang up.
    static let linger = TimeAmount.seconds(2)

    private let role: Role
    private let options: Options
    private var parser: WebSocketFrameParser
    private var keys = MaskKeySource()
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
    /// A read asked for while a pong waits (or frames wait their turn): passed on once it is written.
    private var heldRead = false
    /// Bytes read but not yet parsed: they wait for the next turn of the event loop (`framesPerTurn`).
    private var backlog: ByteBuffer?
    /// The end of input came while bytes waited in the backlog.
    private var backlogInputClosed = false
    private var pingTask: Scheduled<Void>?
    private var lingerTask: Scheduled<Void>?
    /// Our own frames (a pong, a close) wait here until the handshake's handlers have left: the client's
    /// HTTP decoder watches every write that passes it and traps on one that is not an HTTP part, and the
    /// bytes behind a 101 (a ping, say) are read while it is still leaving.
    private var held: [(ByteBuffer, EventLoopPromise<Void>?)]?

    public init(role: Role, options: Options) {
        self.role = role
        self.options = options
        self.parser = WebSocketFrameParser(maxFrame: options.maxMessage)
    }

    /// Adds the bridge to an upgraded channel at `position` (the hand-over puts it in front of the handler
    /// that holds the bytes behind the handshake, so they are read as frames too). Call on the channel's
    /// event loop. With `holdingWrites`, frames wait until `startWriting()`, to be called once the
    /// handshake's handlers are gone.
    @discardableResult
    public static func install(
        on channel: any Channel, role: Role, options: Options, position: ChannelPipeline.SynchronousOperations.Position = .last,
        holdingWrites: Bool = false
    ) throws -> WebSocketFrameBridge {
        let bridge = WebSocketFrameBridge(role: role, options: options)
        if holdingWrites { bridge.held = [] }
        try channel.pipeline.syncOperations.addHandler(bridge, position: position)
        return bridge
    }

    /// The way to the socket is clear: frames held since `install` go out, in order.
    public func startWriting() {
        guard let frames = held, let context else { return }
        held = nil
        for (frame, promise) in frames { context.write(Self.wrapOutboundOut(frame), promise: promise) }
        context.flush()
        writePendingPong(context: context)
    }

    /// The latest ping's pong, once it may go; then the read it held back.
    private func writePendingPong(context: ChannelHandlerContext) {
        guard held == nil, context.channel.isWritable, let payload = pendingPong else { return }
        pendingPong = nil
        if !closeSent { send(frame(.pong, payload, context: context), promise: nil, context: context) }
        if heldRead, backlog == nil {
            heldRead = false
            context.read()
        }
    }

    private var context: ChannelHandlerContext?

    /// Writes and flushes one of our own frames, or holds it until `startWriting()`.
    private func send(_ frame: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        if held != nil {
            held!.append((frame, promise))
        } else {
            context.writeAndFlush(Self.wrapOutboundOut(frame), promise: promise)
        }
    }

    /// A whole frame (control frames; data frames go through `write`).
    private func frame(_ opcode: WebSocketOpcode, _ data: ByteBuffer, context: ChannelHandlerContext) -> ByteBuffer {
        WebSocketFrameWriter.frame(
            opcode: opcode, payload: data, maskKey: role == .client ? keys.key() : nil, allocator: context.channel.allocator)
    }

    private func sendClose(_ code: WebSocketErrorCode, _ words: String, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        closeSent = true
        stopPinging()
        var data = context.channel.allocator.buffer(capacity: 2 + words.utf8.count)
        data.write(webSocketErrorCode: code)
        // A control frame carries at most 125 bytes.
        data.writeString(String(words.utf8.prefix(100)) ?? "")
        let promise = context.eventLoop.makePromise(of: Void.self)
        send(frame(.connectionClose, data, context: context), promise: promise, context: context)
        return promise.futureResult
    }

    /// A broken rule: a close frame with its code, our write side shut, and the relay told why. The peer
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

    /// A data frame begins: its message may grow by its length.
    private func begin(_ head: WebSocketFrameParser.Head, context: ChannelHandlerContext) {
        messageBytes += head.length
        guard messageBytes <= options.maxMessage else {
            fail(.tooLarge("message larger than \(options.maxMessage) bytes"), context: context)
            return
        }
        inMessage = !head.fin
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
                self.send(self.frame(.ping, ByteBuffer(string: "purr"), context: context), promise: nil, context: context)
            }
            self.inboundSincePing = false
            self.schedulePing(in: interval, context: context)
        }
    }

    /// Bytes came in (a frame still arriving counts: a large frame on a slow link is a live peer).
    private func noteInbound() {
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
        self.context = context
        if context.channel.isActive { startPinging(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        stopPinging()
        lingerTask?.cancel()
        if let frames = held {
            held = nil
            for (_, promise) in frames { promise?.fail(ChannelError.ioOnClosedChannel) }
        }
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
        var bytes = Self.unwrapInboundIn(data)
        if var waiting = backlog {
            // Behind frames still waiting their turn: in order, after them.
            waiting.writeBuffer(&bytes)
            backlog = waiting
            return
        }
        process(bytes, context: context)
    }

    /// Reads frames from `bytes`, at most `framesPerTurn` of them: one read of 1 MiB can hold 170,000 empty
    /// frames, and working through them at once would hold every other connection on this event loop.
    /// What is left waits for the next turn of the loop, with reading stopped meanwhile.
    private func process(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        var bytes = bytes
        var frames = 0
        // Nothing counts after a violation or the peer's close frame (RFC 6455 5.5.1).
        while !failed, !closeReceived {
            if frames == Self.framesPerTurn, bytes.readableBytes > 0 {
                backlog = bytes
                context.eventLoop.assumeIsolated().execute { self.nextTurn(context: context) }
                return
            }
            let event: WebSocketFrameParser.Event?
            do {
                event = try parser.next(from: &bytes)
            } catch {
                return fail(.decoding(error, limit: options.maxMessage), context: context)
            }
            guard let event else { return }
            switch event {
            case .head(let head):
                frames += 1
                check(head, context: context)
            case .payload(let piece):
                context.fireChannelRead(Self.wrapInboundOut(piece))
            case .control(let head, let payload):
                control(head, payload, context: context)
            }
        }
    }

    /// The frames that waited: the next batch, then what waited behind them (the end of input, a read).
    private func nextTurn(context: ChannelHandlerContext) {
        guard let waiting = backlog, self.context != nil else { return }
        backlog = nil
        noteInbound()  // frames of the peer's, read now: it is not silent
        process(waiting, context: context)
        context.fireChannelReadComplete()
        guard backlog == nil else { return }
        if backlogInputClosed {
            backlogInputClosed = false
            inputClosed(context: context)
        }
        if heldRead, pendingPong == nil {
            heldRead = false
            context.read()
        }
    }

    /// A frame's header: what may come here, from this peer.
    private func check(_ head: WebSocketFrameParser.Head, context: ChannelHandlerContext) {
        guard head.reserved == 0 else {
            return fail(.protocolError("reserved bit set without an extension"), context: context)
        }
        switch (role, head.maskKey) {
        case (.server, nil): return fail(.protocolError("unmasked client frame"), context: context)
        case (.client, .some): return fail(.protocolError("masked server frame"), context: context)
        default: break
        }
        switch head.opcode {
        case .binary, .text:
            guard !inMessage else { return fail(.protocolError("new message before the last one ended"), context: context) }
            messageBytes = 0
            begin(head, context: context)
        case .continuation:
            guard inMessage else { return fail(.protocolError("continuation frame outside a message"), context: context) }
            begin(head, context: context)
        case .ping, .pong, .connectionClose:
            break
        default:
            fail(.protocolError("reserved opcode \(head.opcode)"), context: context)
        }
    }

    /// A whole control frame (its header already checked).
    private func control(_ head: WebSocketFrameParser.Head, _ payload: ByteBuffer, context: ChannelHandlerContext) {
        switch head.opcode {
        case .ping:
            guard !closeSent else { return }
            if held == nil && context.channel.isWritable && pendingPong == nil {
                send(frame(.pong, payload, context: context), promise: nil, context: context)
            } else {
                pendingPong = payload  // replaces an older one: only the latest ping needs its pong
            }
        case .pong:
            awaitingPong = false
        case .connectionClose:
            peerClosed(context: context)
        default:
            break
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // After the frames still waiting, if any.
            if backlog != nil {
                backlogInputClosed = true
            } else {
                inputClosed(context: context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func inputClosed(context: ChannelHandlerContext) {
        if failed {
            context.close(promise: nil)
        } else {
            peerClosed(context: context)
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // After a violation the decoder complains about every byte still coming; the close is under way.
        if failed { return }
        // The peer's close frame already ended the stream; a TLS peer that then hangs up without
        // close_notify (common) cut nothing off.
        if closeReceived, let tls = error as? NIOSSLError, case .uncleanShutdown = tls { return }
        context.fireErrorCaught(error)
    }

    public func read(context: ChannelHandlerContext) {
        // A pong waits for the peer to read, or frames already read wait their turn: read nothing meanwhile.
        guard pendingPong == nil, backlog == nil else {
            heldRead = true
            return
        }
        readDemand = true
        context.read()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        writePendingPong(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = Self.unwrapOutboundIn(data)
        // An empty write has nothing to frame: it only completes, behind what is queued.
        guard bytes.readableBytes > 0 else {
            promise?.succeed(())
            return
        }
        guard !closeSent else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        switch role {
        case .client:
            // Masked while copied behind the header: one pass over the payload, one buffer to send.
            let masked = WebSocketFrameWriter.frame(
                opcode: .binary, payload: bytes, maskKey: keys.key(), allocator: context.channel.allocator)
            if held != nil { held!.append((masked, promise)) } else { context.write(Self.wrapOutboundOut(masked), promise: promise) }
        case .server where held != nil:
            held!.append(
                (WebSocketFrameWriter.frame(opcode: .binary, payload: bytes, maskKey: nil, allocator: context.channel.allocator), promise))
        case .server where bytes.readableBytes <= Self.copiedPayload:
            // Small: one buffer, header and payload (a copy this size costs less than a second buffer).
            let frame = WebSocketFrameWriter.frame(opcode: .binary, payload: bytes, maskKey: nil, allocator: context.channel.allocator)
            context.write(Self.wrapOutboundOut(frame), promise: promise)
        case .server:
            // The payload goes as it is, behind its own small header (one vectored write).
            var header = context.channel.allocator.buffer(capacity: WebSocketFrameWriter.maxHeaderSize)
            WebSocketFrameWriter.writeHeader(opcode: .binary, length: bytes.readableBytes, maskKey: nil, into: &header)
            context.write(Self.wrapOutboundOut(header), promise: nil)
            context.write(Self.wrapOutboundOut(bytes), promise: promise)
        }
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
