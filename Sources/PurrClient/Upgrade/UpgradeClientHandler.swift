import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import NIOWebSocket
import PurrCore

/// The client's side of the handshake on the server connection: an optional proxy CONNECT (spoken by
/// the `ProxyTunnelHandler` in front), then the upgrade request and its 101, spoken through NIOHTTP1's
/// encoder and decoder. Reports once, on the
/// event loop, after the HTTP handlers have left the pipeline, so the bytes that came behind the 101
/// (an SSH banner) wait in the channel's `EarlyBytesHandler` for the relay; or with a reason a human
/// understands.
///
/// A warm pool's connection (`claimable`) does the proxy CONNECT and the TLS handshake at once, then
/// waits, sending nothing, until `claim` gives it the request of the app connection it will carry.
///
/// Pipeline: [ProxyTunnelHandler] [TLS] HandshakeGate, HTTP request encoder, HTTP response decoder, this,
/// EarlyBytesHandler. Through a proxy, TLS is added once the proxy's handler has left.
final class UpgradeClientHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    typealias Completion = (Result<Void, HandshakeFailure>) -> Void

    enum State {
        /// A pooled connection that is connected (and through its proxy and TLS) and waits for `claim`.
        case idle
        /// The `ProxyTunnelHandler` in front waits for the proxy's answer.
        case awaitingProxy
        case awaitingUpgrade
        /// A valid 101; the hand-over waits for the decoder's `.end` of it. `framed`: WebSocket frames follow.
        case upgraded(framed: Bool)
        /// A refusal's body, kept for the error line.
        case readingRefusal(code: Int, reason: String, body: ByteBuffer)
        case finished
    }

    /// Bytes of a refusal's body kept for the error line.
    static let refusalBodyLimit = 512

    private var state: State
    private var request: UpgradeRequest
    private let proxy: ProxySettings?
    private let target: HostPort
    private let tls: (context: NIOSSLContext, host: String)?
    private let gate: HandshakeGate
    private let timeout: TimeAmount
    private let webSocket: WebSocketFrameBridge.Options
    private var earlyData: EarlyDataPlan?
    /// The app connection's bytes being sent before the 101 (early data), until the 101 or a failure.
    private var forwarding: EarlyBytesHandler?
    private var timer: Scheduled<Void>?
    private var completion: Completion?
    /// A pooled connection's readiness (or failure before it), then its loss while idle; nil otherwise.
    private var pooled: Pooled?
    private var context: ChannelHandlerContext?

    /// What a pooled connection reports before it carries a request.
    struct Pooled {
        /// Once: ready to carry a request, or failed getting there.
        var ready: ((Result<Void, HandshakeFailure>) -> Void)?
        /// Once, after `ready`: closed (or spoken to) by the server while waiting.
        var lost: (String) -> Void
        /// TLS to the server: ready only after its handshake.
        var awaitingTLS: Bool
    }

    init(
        request: UpgradeRequest, proxy: ProxySettings?, target: HostPort, tls: (context: NIOSSLContext, host: String)?,
        gate: HandshakeGate, timeout: TimeAmount, webSocket: WebSocketFrameBridge.Options = .init(),
        earlyData: EarlyDataPlan? = nil, completion: @escaping Completion
    ) {
        self.webSocket = webSocket
        self.earlyData = earlyData
        self.request = request
        self.proxy = proxy
        self.target = target
        self.tls = tls
        self.gate = gate
        self.timeout = timeout
        self.completion = completion
        self.state = proxy == nil ? .awaitingUpgrade : .awaitingProxy
    }

    /// A pooled connection's handler: no request yet; `claim` gives it one.
    convenience init(
        pooledWith template: UpgradeRequest, proxy: ProxySettings?, target: HostPort, tls: (context: NIOSSLContext, host: String)?,
        gate: HandshakeGate, timeout: TimeAmount, webSocket: WebSocketFrameBridge.Options,
        ready: @escaping (Result<Void, HandshakeFailure>) -> Void, lost: @escaping (String) -> Void
    ) {
        self.init(
            request: template, proxy: proxy, target: target, tls: tls, gate: gate, timeout: timeout, webSocket: webSocket,
            completion: { _ in })
        self.completion = nil
        self.pooled = Pooled(ready: ready, lost: lost, awaitingTLS: tls != nil)
    }

    /// Sends `request` on this pooled connection and reports as an unpooled one would. On its loop.
    func claim(request: UpgradeRequest, earlyData: EarlyDataPlan?, completion: @escaping Completion) {
        guard case .idle = state, let context, context.channel.isActive else {
            completion(.failure(HandshakeFailure("the pooled connection to the server closed")))
            return
        }
        pooled = nil
        self.request = request
        self.earlyData = earlyData
        self.completion = completion
        state = .awaitingUpgrade
        startTimer(context)
        sendUpgrade(context)
    }

    private func startTimer(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let seconds = timeout.nanoseconds / 1_000_000_000
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            if case .awaitingProxy = self.state {
                self.fail(context, "proxy \(self.proxy?.endpoint.description ?? "") did not answer CONNECT within \(seconds) s")
            } else {
                self.fail(context, "server did not answer within \(seconds) s")
            }
        }
    }

    /// A pooled connection is ready once it is through its proxy and TLS.
    private func becomeReadyIfDone(_ context: ChannelHandlerContext) {
        guard var pooled, let ready = pooled.ready, !pooled.awaitingTLS else { return }
        if case .awaitingProxy = state { return }
        timer?.cancel()
        state = .idle
        pooled.ready = nil
        self.pooled = pooled
        ready(.success(()))
    }

    /// The handlers a server connection starts with, in order; `proxyTunnel` first when there is a proxy.
    static func install(
        on channel: any Channel, proxyTunnel: ProxyTunnelHandler? = nil, handler makeHandler: (HandshakeGate) -> UpgradeClientHandler
    ) throws {
        let gate = HandshakeGate()
        let operations = channel.pipeline.syncOperations
        if let proxyTunnel { try operations.addHandler(proxyTunnel) }
        try operations.addHandler(gate)
        try operations.addHandlers(HTTPRequestEncoder(), RequestHeadCheck())
        try operations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)))
        try operations.addHandler(makeHandler(gate))
        try operations.addHandler(EarlyBytesHandler())
    }

    private func fail(_ context: ChannelHandlerContext, _ words: String) {
        if let pooled {
            // Not carrying a request yet: tell the pool, which replaces the connection.
            self.pooled = nil
            state = .finished
            timer?.cancel()
            context.close(promise: nil)
            if let ready = pooled.ready { ready(.failure(HandshakeFailure(words))) } else { pooled.lost(words) }
            return
        }
        guard let completion else { return }
        stopEarlyData()
        self.completion = nil
        state = .finished
        timer?.cancel()
        context.close(promise: nil)
        completion(.failure(HandshakeFailure(words)))
    }

    /// Leaves the pipeline with the HTTP handlers; the decoder's leftovers reach the `EarlyBytesHandler`.
    private func handOver(_ context: ChannelHandlerContext, framed: Bool) {
        guard let completion else { return }
        stopEarlyData()
        self.completion = nil
        state = .finished
        timer?.cancel()
        // Reading stays on: what comes before the relay owns this channel waits in its `EarlyBytesHandler`,
        // which stops reading past its limit (turning it off and on again costs two system calls).
        let operations = context.pipeline.syncOperations
        let decoder = try? operations.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
        if let encoder = try? operations.handler(type: HTTPRequestEncoder.self) {
            operations.removeHandler(encoder, promise: nil)
        }
        operations.removeHandler(context: context, promise: nil)
        var bridge: WebSocketFrameBridge?
        if framed {
            // Before the decoder leaves, so the bytes behind the 101 are decoded as frames. Its own frames
            // (a pong for a ping behind the 101) wait until the decoder, which traps on any write that is not
            // an HTTP part, has left.
            do {
                bridge = try WebSocketFrameBridge.install(on: context.channel, role: .client, options: webSocket, holdingWrites: true)
            } catch {
                context.close(promise: nil)
                completion(.failure(HandshakeFailure("cannot start WebSocket framing: \(error)")))
                return
            }
        }
        let removed = context.eventLoop.makePromise(of: Void.self)
        if let decoder { operations.removeHandler(decoder, promise: removed) } else { removed.succeed() }
        let gate = self.gate
        removed.futureResult.assumeIsolated().whenComplete { _ in
            bridge?.startWriting()
            gate.release()
            completion(.success(()))
        }
    }

    private func send(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// The upgrade request, and right behind it the app's bytes as they come when this server keeps them:
    /// the answer to them can then come back with the 101 instead of one round trip after it.
    private func sendUpgrade(_ context: ChannelHandlerContext) {
        guard let plan = earlyData, let source = plan.source else {
            send(request.head, context: context)
            return
        }
        // The head and the bytes already held leave in one write (one segment for the server to read).
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        forwarding = source
        // No body framing on a GET: NIOHTTP1 writes these bytes as they are (no `.end`: it would add nothing).
        source.forward(upTo: EarlyDataPlan.limit) { bytes in
            plan.counter.add(bytes.readableBytes)
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        }
        context.flush()
    }

    private func stopEarlyData() {
        forwarding?.stopForwarding()
        forwarding = nil
    }

    /// The proxy's tunnel is up and its handler gone: what comes now is the server's.
    private func proxyDone(_ context: ChannelHandlerContext) {
        guard case .awaitingProxy = state else { return }
        state = pooled == nil ? .awaitingUpgrade : .idle
        if let tls {
            do {
                // TLS to the server starts inside the proxy's tunnel, in front of everything else.
                let handler = try ClientTLS.makeHandler(context: tls.context, host: tls.host, port: target.port)
                try context.pipeline.syncOperations.addHandler(handler, position: .first)
                try context.pipeline.syncOperations.addHandler(ProxyHalfCloseHandler(), position: .first)
            } catch {
                fail(context, "cannot start TLS with \(tls.host): \(error)")
                return
            }
        }
        if pooled != nil {
            becomeReadyIfDone(context)
            return
        }
        sendUpgrade(context)
    }

    private func upgradeAnswered(_ head: HTTPResponseHead, context: ChannelHandlerContext) {
        do {
            var framed = false
            if let key = request.webSocketKey {
                framed = try WebSocketHandshake.validate(head, key: key) == .framed
            } else {
                try UpgradeResponse.validate(head, expected: request.upgrade)
            }
            earlyData?.learned(UpgradeResponse.acceptsEarlyData(head))
            gate.headComplete(accepted: true)
            state = .upgraded(framed: framed)
        } catch {
            gate.headComplete(accepted: false)
            if case .status(_, let reason, _) = error {
                // Keep reading a little of the body: it says why (e.g. "no route for /x").
                state = .readingRefusal(code: Int(head.status.code), reason: reason, body: ByteBuffer())
                return
            }
            fail(context, error.description)
        }
    }

    private func refusalComplete(_ context: ChannelHandlerContext) {
        guard case .readingRefusal(let code, let reason, let body) = state else { return }
        let text = String(buffer: body).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        fail(context, UpgradeResponseError.status(code: String(code), reason: reason, body: text.printableLine).description)
    }

    private func closedEarly(_ context: ChannelHandlerContext) {
        switch state {
        case .readingRefusal:
            refusalComplete(context)
        case .awaitingProxy:
            fail(context, "proxy \(proxy?.endpoint.description ?? "") closed the connection before answering")
        case .awaitingUpgrade, .upgraded:
            fail(context, UpgradeResponseError.closedBeforeResponse.description)
        case .idle:
            fail(context, "the server closed the pooled connection")
        case .finished:
            break
        }
    }
}

extension UpgradeClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context)
        if proxy != nil {
            // The `ProxyTunnelHandler` in front has sent the CONNECT; `proxyDone` follows its answer.
        } else if pooled != nil {
            state = .idle
            becomeReadyIfDone(context)
        } else {
            sendUpgrade(context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingUpgrade):
            upgradeAnswered(head, context: context)
        case (.body(var bytes), .readingRefusal(let code, let reason, var body)):
            let room = Self.refusalBodyLimit - body.readableBytes
            if room > 0, let slice = bytes.readSlice(length: min(room, bytes.readableBytes)) {
                body.writeImmutableBuffer(slice)
            }
            state = .readingRefusal(code: code, reason: reason, body: body)
        case (.end, .upgraded(let framed)):
            handOver(context, framed: framed)
        case (.end, .readingRefusal):
            refusalComplete(context)
        case (_, .idle):
            fail(context, "the server spoke before the request on a pooled connection")
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            closedEarly(context)
        }
        if event is ProxyTunnelHandler.Established {
            proxyDone(context)
            return
        }
        if case .handshakeCompleted = event as? TLSUserEvent, var pooled {
            pooled.awaitingTLS = false
            self.pooled = pooled
            becomeReadyIfDone(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closedEarly(context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let failure = error as? ProxyTunnelHandler.Failure {
            fail(context, failure.description)
        } else if let tls, let words = ClientTLS.describe(error, host: tls.host) {
            fail(context, words)
        } else if error is HTTPParserError || error is HandshakeGate.HeadTooLarge {
            fail(context, "server sent a bad response: \(error)")
        } else {
            fail(context, "server connection failed: \(ConnectFailure.describe(error))")
        }
    }
}

/// Why a connection to the server did not become a relay, in words.
public struct HandshakeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
