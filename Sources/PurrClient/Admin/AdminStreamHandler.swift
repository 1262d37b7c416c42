import NIOCore
import PurrCore

/// Reads one admin stream response: the head, then (chunked or raw) server-sent events.
final class AdminStreamHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Outcome: Sendable, Equatable {
        case unauthorized
        case failed(String)
    }

    struct Callbacks: Sendable {
        var live: @Sendable () -> Void
        var event: @Sendable (String, String) -> Void
        var finished: @Sendable (Outcome) -> Void
    }

    private enum State {
        case head(HTTPHeadParser)
        case body(chunked: ChunkedDecoder?)
        case finished
    }

    private var state = State.head(HTTPHeadParser(kind: .response))
    private var sse = SSEParser()
    private let request: String
    private let callbacks: Callbacks

    init(request: String, callbacks: Callbacks) {
        self.request = request
        self.callbacks = callbacks
    }

    private func finish(_ context: ChannelHandlerContext, _ outcome: Outcome) {
        if case .finished = state { return }
        state = .finished
        callbacks.finished(outcome)
        context.close(promise: nil)
    }

    private func body(_ bytes: [UInt8], context: ChannelHandlerContext) {
        do {
            for event in try sse.feed(bytes) { callbacks.event(event.name, event.data) }
        } catch {
            finish(context, .failed("admin stream line too long"))
        }
    }
}

extension AdminStreamHandler: ChannelInboundHandler {
    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        switch state {
        case .head(var parser):
            do {
                guard case .complete(let head, let rest) = try parser.feed(&buffer) else {
                    state = .head(parser)
                    return
                }
                switch head.second {
                case "200":
                    let chunked = head.value(of: "Transfer-Encoding")?.lowercased().contains("chunked") == true
                    state = .body(chunked: chunked ? ChunkedDecoder() : nil)
                    callbacks.live()
                    if rest.readableBytes > 0 { channelRead(context: context, data: NIOAny(rest)) }
                case "401":
                    finish(context, .unauthorized)
                default:
                    finish(context, .failed("server answered \(head.second) \(head.third)"))
                }
            } catch {
                finish(context, .failed("not an admin endpoint: \(error)"))
            }
        case .body(var chunked):
            if chunked != nil {
                do {
                    let bytes = try chunked!.feed(&buffer)
                    state = .body(chunked: chunked)
                    body(bytes, context: context)
                    if chunked!.isDone { finish(context, .failed("the server ended the stream")) }
                } catch {
                    finish(context, .failed("bad stream: \(error)"))
                }
            } else {
                body(Array(buffer.readableBytesView), context: context)
            }
        case .finished:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            finish(context, .failed("no data from the server for too long"))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .head = state {
            finish(context, .failed("connection closed before an answer"))
        } else {
            finish(context, .failed("connection closed"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context, .failed(ConnectFailure.describe(error)))
    }
}
