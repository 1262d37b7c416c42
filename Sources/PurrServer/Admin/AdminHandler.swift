import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PurrCore

/// One admin connection: plain requests (`/healthz`, `/stats`, `/metrics`) or a live event stream.
final class AdminHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    enum State {
        case idle
        case receiving(HTTPRequestHead)
        /// Streaming: the repeating stats task and the registry observer to remove on close.
        case streaming(task: RepeatedTask, observer: UInt64)
        case closed
    }

    private var state: State = .idle
    private let registry: StatsRegistry
    private let config: AdminConfig
    private let logger: Logger
    private let encoder = AdminJSON.encoder()
    /// Starts the server's drain (`POST /drain`); nil when the process has no server to drain.
    private let drain: (@Sendable () -> DrainStart)?
    /// Bytes handed to the socket and not yet written: a viewer that stops reading grows this.
    private var backlog = 0

    init(registry: StatsRegistry, config: AdminConfig, logger: Logger, drain: (@Sendable () -> DrainStart)? = nil) {
        self.drain = drain
        self.registry = registry
        self.config = config
        self.logger = logger
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let target = RequestTarget(head.uri) else {
            return respond(context, .badRequest, "text/plain; charset=utf-8", "the request target is not a URL path\n", keepAlive: false)
        }
        let path = target.path
        // Two Host headers are a malformed request (RFC 9112 3.2); answering by the first would let a
        // second one slip past the loopback rule below in some other reader's view.
        guard head.headers["host"].count <= 1 else {
            return respond(context, .badRequest, "text/plain; charset=utf-8", "more than one Host header\n", keepAlive: false)
        }
        // Without a token, a page on another site could read us through DNS rebinding (its name, our
        // address): only a request that names loopback as its Host is answered.
        if config.token == nil, !Self.namesLoopback(head.headers.first(name: "host")) {
            return respond(
                context, .forbidden, "text/plain; charset=utf-8",
                "this admin endpoint has no token and answers only requests for a loopback Host (localhost, 127.0.0.1, [::1])\n",
                keepAlive: false)
        }
        if path == "/healthz", head.method == .GET {
            return respond(context, .ok, "text/plain; charset=utf-8", "ok\n", keepAlive: head.isKeepAlive)
        }
        if let token = config.token {
            let presented = PresentedToken.find(in: head)
            guard let presented, ConstantTime.equals(presented, token) else {
                var extra = HTTPHeaders()
                extra.add(name: "WWW-Authenticate", value: "Bearer")
                let why = presented == nil ? "missing token (Authorization: Bearer TOKEN)" : "wrong token"
                return respond(context, .unauthorized, "text/plain; charset=utf-8", why + "\n", keepAlive: false, extra: extra)
            }
        }
        if path == "/drain" { return drainRequested(head, context: context) }
        guard head.method == .GET else {
            return respond(context, .notFound, "text/plain; charset=utf-8", "not found: \(head.method) \(path)\n", keepAlive: false)
        }
        switch path {
        case "/stats":
            respond(context, .ok, "application/json", json(registry.snapshot()) + "\n", keepAlive: head.isKeepAlive)
        case "/metrics":
            respond(
                context, .ok, "text/plain; version=0.0.4; charset=utf-8", MetricsText.render(registry.snapshot()) + registry.reverseMetrics,
                keepAlive: head.isKeepAlive)
        case "/stats/stream":
            var interval = 1000
            if let text = target.value(of: "interval_ms") {
                guard let value = Int(text), (100...60000).contains(value) else {
                    return respond(
                        context, .badRequest, "text/plain; charset=utf-8", "interval_ms must be a whole number from 100 to 60000\n",
                        keepAlive: false)
                }
                interval = value
            }
            startStream(context, interval: .milliseconds(Int64(interval)))
        default:
            respond(context, .notFound, "text/plain; charset=utf-8", "not found: \(path)\n", keepAlive: head.isKeepAlive)
        }
    }

    /// `POST /drain`: only with a token, as any web page may send a POST to a loopback address.
    private func drainRequested(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let text = "text/plain; charset=utf-8"
        guard head.method == .POST else {
            var extra = HTTPHeaders()
            extra.add(name: "Allow", value: "POST")
            return respond(context, .methodNotAllowed, text, "use POST /drain\n", keepAlive: false, extra: extra)
        }
        guard config.token != nil else {
            return respond(
                context, .forbidden, text, "POST /drain needs an admin token (--admin-token, admin.token or PURR_ADMIN_TOKEN)\n",
                keepAlive: false)
        }
        // The token in a header only: a form on any web site can POST to `/drain?token=...` (its Origin
        // aside), but it cannot set `Authorization` or `Purr-Token` without the browser asking CORS first.
        guard
            head.headers.first(name: PurrWire.Header.authorization).flatMap(PresentedToken.bearer) != nil
                || head.headers.first(name: PurrWire.Header.purrToken) != nil
        else {
            return respond(
                context, .forbidden, text, "POST /drain takes the token in a header (Authorization: Bearer TOKEN), not in the URL\n",
                keepAlive: false)
        }
        guard let drain else { return respond(context, .notFound, text, "nothing to drain here\n", keepAlive: false) }
        let started = drain()
        logger.notice("drain asked on the admin endpoint", metadata: ["already": "\(started.already)", "relays": "\(started.relays)"])
        respond(context, .ok, "application/json", json(started) + "\n", keepAlive: false)
    }

    private func startStream(_ context: ChannelHandlerContext, interval: TimeAmount) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let observer = registry.addObserver { event in
            loopBound.eventLoop.execute {
                let (handler, context) = loopBound.value
                handler.send(context, event: "connection", data: handler.json(event))
            }
        }
        let task = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
            let (handler, context) = loopBound.value
            handler.send(context, event: "stats", data: handler.registry.snapshotJSON())  // one encoding per tick for all viewers
        }
        state = .streaming(task: task, observer: observer)
    }

    /// Writes one server-sent event, or drops the viewer if too much is already waiting.
    private func send(_ context: ChannelHandlerContext, event: String, data: String) {
        guard case .streaming = state else { return }
        guard backlog <= config.viewerBacklogLimit else {
            logger.notice("admin viewer dropped: not reading", metadata: ["backlog": "\(backlog)"])
            stop(context)
            return
        }
        let buffer = context.channel.allocator.buffer(string: "event: \(event)\ndata: \(data)\n\n")
        backlog += buffer.readableBytes
        let size = buffer.readableBytes
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenSuccess { self.backlog -= size }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: promise)
    }

    private func stop(_ context: ChannelHandlerContext) {
        if case .streaming(let task, let observer) = state {
            task.cancel()
            registry.removeObserver(observer)
        }
        state = .closed
        context.close(promise: nil)
    }

    private func respond(
        _ context: ChannelHandlerContext,
        _ status: HTTPResponseStatus,
        _ contentType: String,
        _ body: String,
        keepAlive: Bool,
        extra: HTTPHeaders = HTTPHeaders()
    ) {
        var headers = extra
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        state = .idle
        if !keepAlive {
            state = .closed
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    func json<T: Encodable>(_ value: T) -> String {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// `localhost`, `127.0.0.1:9000`, `[::1]:9000`: a Host value that names a loopback address.
    static func namesLoopback(_ host: String?) -> Bool {
        guard var text = host?.trimmingASCIIWhitespace(), !text.isEmpty else { return false }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return false }
            text = String(text[text.index(after: text.startIndex)..<close])
        } else if let colon = text.lastIndex(of: ":") {
            text = String(text[..<colon])
        }
        if text.hasSuffix(".") { text.removeLast() }
        return HostPort(host: text, port: 0).isLoopback
    }
}

extension AdminHandler: ChannelInboundHandler {
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            if case .idle = state { state = .receiving(head) }
        case .body:
            break
        case .end:
            if case .receiving(let head) = state { route(head, context: context) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .streaming(let task, let observer) = state {
            task.cancel()
            registry.removeObserver(observer)
        }
        state = .closed
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Nothing asked within the idle timeout: a stream viewer is expected to be quiet, nobody else.
        if event is IdleStateHandler.IdleStateEvent {
            if case .streaming = state { return }
            state = .closed
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stop(context)
    }
}
