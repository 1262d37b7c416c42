import Foundation
import NIOCore
import NIOPosix
import PurrCore

/// `purr-server drain`'s side of the admin endpoint: one `POST /drain` over plain HTTP/1.1, its answer
/// read whole (at most 64 KiB) until the server closes, within a deadline.
public enum AdminDrainClient {
    public struct Answer: Sendable, Equatable {
        public var status: Int
        /// The body's first line (a refusal's words, or the JSON).
        public var body: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case connect(String)
        case timeout(Double)
        case badAnswer(String)

        public var description: String {
            switch self {
            case .connect(let why): return "cannot reach the admin endpoint: \(why)"
            case .timeout(let seconds): return "no answer from the admin endpoint within \(seconds.formatted()) s"
            case .badAnswer(let why): return "the admin endpoint sent a bad answer: \(why)"
            }
        }
    }

    static let answerLimit = 64 * 1024

    public static func post(to address: HostPort, token: String?, timeout: Double = 10) async throws -> Answer {
        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.next().makePromise(of: AnswerCollector.Result.self)
        let deadline = TimeAmount.milliseconds(Int64(timeout * 1000))
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(deadline)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AnswerCollector(limit: answerLimit, done: done, deadline: deadline))
                    }
                }
                .connect(host: address.host, port: address.port).get()
        } catch {
            done.fail(Failure.connect(ConnectFailure.describe(error)))
            throw Failure.connect(ConnectFailure.describe(error))
        }
        var request = "POST /drain HTTP/1.1\r\nHost: \(address)\r\nContent-Length: 0\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
        let result = try await done.futureResult.get()
        if result.timedOut { throw Failure.timeout(timeout) }
        return try parse(result.bytes)
    }

    /// Status code and first body line of an HTTP/1.x answer.
    static func parse(_ bytes: [UInt8]) throws -> Answer {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else {
            throw Failure.badAnswer(bytes.isEmpty ? "closed without answering" : "no complete head")
        }
        let statusLine = text[..<headEnd.lowerBound].prefix { $0 != "\r" }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure.badAnswer("status line \(String(statusLine).printableLine)")
        }
        let body = text[headEnd.upperBound...].prefix { $0 != "\n" && $0 != "\r" }
        return Answer(status: status, body: String(body).printableLine)
    }
}

/// Gathers what the server sends until it closes (bytes past the limit are dropped), or until the deadline.
private final class AnswerCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    struct Result {
        var bytes: [UInt8]
        var timedOut: Bool
    }

    private let limit: Int
    private let done: EventLoopPromise<Result>
    private let deadline: TimeAmount
    private var bytes: [UInt8] = []
    private var timedOut = false
    private var timer: Scheduled<Void>?

    init(limit: Int, done: EventLoopPromise<Result>, deadline: TimeAmount) {
        self.limit = limit
        self.done = done
        self.deadline = deadline
    }

    func channelActive(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: deadline) {
            self.timedOut = true
            context.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        let room = max(0, limit - bytes.count)
        bytes += buffer.readableBytesView.prefix(room)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        done.succeed(Result(bytes: bytes, timedOut: timedOut && bytes.isEmpty))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
