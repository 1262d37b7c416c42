import NIOCore
import NIOSSL
import PurrCore

/// The client's side of the handshake on the server connection: an optional proxy CONNECT, then the
/// upgrade request and its 101. Reports once, synchronously on the event loop, with the bytes that
/// arrived behind the 101 (they belong to the stream) or a reason a human understands.
final class UpgradeClientHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Completion = (Result<ByteBuffer, HandshakeFailure>) -> Void

    enum State {
        case awaitingProxy(HTTPHeadParser)
        case awaitingUpgrade(HTTPHeadParser)
        /// A refusal's body, kept for the error line.
        case readingRefusal(code: String, reason: String, remaining: Int, body: ByteBuffer)
        case finished
    }

    private var state: State
    private let request: UpgradeRequest
    private let proxy: ProxySettings?
    private let target: HostPort
    private let tls: (context: NIOSSLContext, host: String)?
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var completion: Completion?

    init(
        request: UpgradeRequest, proxy: ProxySettings?, target: HostPort, tls: (context: NIOSSLContext, host: String)?,
        timeout: TimeAmount, completion: @escaping Completion
    ) {
        self.request = request
        self.proxy = proxy
        self.target = target
        self.tls = tls
        self.timeout = timeout
        self.completion = completion
        self.state = proxy == nil ? .awaitingUpgrade(HTTPHeadParser(kind: .response)) : .awaitingProxy(HTTPHeadParser(kind: .response))
    }

    private func finish(_ context: ChannelHandlerContext, _ result: Result<ByteBuffer, HandshakeFailure>) {
        guard let completion else { return }
        self.completion = nil
        state = .finished
        timer?.cancel()
        if case .failure = result { context.close(promise: nil) }
        completion(result)
    }

    private func sendUpgrade(_ context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(string: request.encoded())), promise: nil)
    }

    private func handleProxyAnswer(_ head: HTTPHead, remainder: ByteBuffer, context: ChannelHandlerContext) {
        guard let code = Int(head.second), (200..<300).contains(code) else {
            finish(context, .failure(.init("proxy \(proxy?.endpoint.description ?? "") answered \(head.second) \(head.third)")))
            return
        }
        state = .awaitingUpgrade(HTTPHeadParser(kind: .response))
        if let tls {
            do {
                let handler = try ClientTLS.makeHandler(context: tls.context, host: tls.host)
                try context.pipeline.syncOperations.addHandler(handler, position: .before(self))
            } catch {
                finish(context, .failure(.init("cannot start TLS with \(tls.host): \(error)")))
                return
            }
        }
        sendUpgrade(context)
        if remainder.readableBytes > 0 { feed(remainder, context: context) }
    }

    private func handleUpgradeAnswer(_ head: HTTPHead, remainder: ByteBuffer, context: ChannelHandlerContext) {
        do {
            try UpgradeResponse.validate(head, expected: request.upgrade)
        } catch {
            if case .status(let code, let reason, _) = error {
                // Keep reading a little of the body: it says why (e.g. "no route for /x").
                let length = head.value(of: "Content-Length").flatMap { Int($0) } ?? 512
                state = .readingRefusal(code: code, reason: reason, remaining: min(max(length, 0), 512), body: ByteBuffer())
                continueRefusal(remainder, context: context)
                return
            }
            finish(context, .failure(.init(error.description)))
            return
        }
        // Nothing more may be read until the relay owns this channel.
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        finish(context, .success(remainder))
    }

    private func continueRefusal(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        guard case .readingRefusal(let code, let reason, var remaining, var body) = state else { return }
        var bytes = bytes
        if let slice = bytes.readSlice(length: min(remaining, bytes.readableBytes)) {
            var slice = slice
            remaining -= slice.readableBytes
            body.writeBuffer(&slice)
        }
        state = .readingRefusal(code: code, reason: reason, remaining: remaining, body: body)
        if remaining == 0 { refusalComplete(context) }
    }

    private func refusalComplete(_ context: ChannelHandlerContext) {
        guard case .readingRefusal(let code, let reason, _, let body) = state else { return }
        let text = String(buffer: body).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let error = UpgradeResponseError.status(code: code, reason: reason, body: HTTPHeadParser.printable(text))
        finish(context, .failure(.init(error.description)))
    }

    private func feed(_ data: ByteBuffer, context: ChannelHandlerContext) {
        var bytes = data
        do {
            switch state {
            case .awaitingProxy(var parser):
                if case .complete(let head, let remainder) = try parser.feed(&bytes) {
                    handleProxyAnswer(head, remainder: remainder, context: context)
                } else {
                    state = .awaitingProxy(parser)
                }
            case .awaitingUpgrade(var parser):
                if case .complete(let head, let remainder) = try parser.feed(&bytes) {
                    handleUpgradeAnswer(head, remainder: remainder, context: context)
                } else {
                    state = .awaitingUpgrade(parser)
                }
            case .readingRefusal:
                continueRefusal(bytes, context: context)
            case .finished:
                break
            }
        } catch {
            let who = { if case .awaitingProxy = self.state { return "proxy" } else { return "server" } }()
            finish(context, .failure(.init("\(who) sent a bad response: \(error.description)")))
        }
    }
}

extension UpgradeClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    func channelActive(context: ChannelHandlerContext) {
        let seconds = timeout.nanoseconds / 1_000_000_000
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.finish(context, .failure(.init("server did not answer within \(seconds) s")))
        }
        if let proxy {
            context.writeAndFlush(NIOAny(ByteBuffer(string: proxy.connectRequest(to: target))), promise: nil)
        } else {
            sendUpgrade(context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        feed(Self.unwrapInboundIn(data), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            closedEarly(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closedEarly(context)
        context.fireChannelInactive()
    }

    private func closedEarly(_ context: ChannelHandlerContext) {
        switch state {
        case .readingRefusal:
            refusalComplete(context)
        case .awaitingProxy:
            finish(context, .failure(.init("proxy \(proxy?.endpoint.description ?? "") closed the connection before answering")))
        case .awaitingUpgrade:
            finish(context, .failure(.init(UpgradeResponseError.closedBeforeResponse.description)))
        case .finished:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let tls, let words = ClientTLS.describe(error, host: tls.host) {
            finish(context, .failure(.init(words)))
        } else {
            finish(context, .failure(.init("server connection failed: \(ConnectFailure.describe(error))")))
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
