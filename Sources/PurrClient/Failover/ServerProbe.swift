import NIOCore
import PurrCore

/// The active half of a server's health: while it is down or draining, `GET /healthz` through the same
/// path a connection takes (proxy CONNECT, TLS), reading only the status line. 200 is up, 503 draining;
/// any other answer but 502/504 counts as up too (a server without /healthz, like the original Ruby one,
/// answers 404: it is there).
enum ServerProbe {
    static let path = "/healthz"
    /// The most read of the answer before its status line must have ended.
    static let lineLimit = 4096

    static func run(_ dialer: ServerDialer, host: String, on loop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<
        ServerSet.ProbeResult
    > {
        let result = Once(loop.makePromise(of: ServerSet.ProbeResult.self))
        var dialer = dialer
        dialer.connectTimeout = timeout
        dialer.handshakeTimeout = timeout
        let deadline = loop.scheduleTask(in: timeout) {
            result.succeed(.failed("no answer to GET \(path) within \(timeout.nanoseconds / 1_000_000_000) s"))
        }
        result.futureResult.whenComplete { _ in deadline.cancel() }
        dialer.prepare(on: loop, lost: { _ in }).whenComplete { prepared in
            switch prepared {
            case .failure(let error):
                result.succeed(.failed((error as? HandshakeFailure)?.description ?? "\(error)"))
            case .success(let pooled):
                ask(pooled, host: host, result: result)
            }
        }
        return result.futureResult
    }

    /// The first of several reports wins (the timer, the handler, the dial's failure); on the loop only.
    final class Once: @unchecked Sendable {
        private let promise: EventLoopPromise<ServerSet.ProbeResult>
        private var done = false
        var futureResult: EventLoopFuture<ServerSet.ProbeResult> { promise.futureResult }

        init(_ promise: EventLoopPromise<ServerSet.ProbeResult>) { self.promise = promise }

        func succeed(_ value: ServerSet.ProbeResult) {
            guard !done else { return }
            done = true
            promise.succeed(value)
        }
    }

    private static func ask(_ pooled: PooledConnection, host: String, result: Once) {
        let channel = pooled.channel
        do {
            let operations = channel.pipeline.syncOperations
            operations.removeHandler(pooled.handler.value, promise: nil)
            RelayHandOver.dropEarlyBytesHolder(on: channel)
            try operations.addHandler(StatusLineHandler(result: result))
        } catch {
            channel.close(promise: nil)
            result.succeed(.failed("cannot probe: \(error)"))
            return
        }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: purr\r\nConnection: close\r\n\r\n"
        channel.writeAndFlush(channel.allocator.buffer(string: request), promise: nil)
        result.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }

    /// What a status code says about the server.
    static func result(status: Int) -> ServerSet.ProbeResult {
        switch status {
        case 503: return .draining
        case 502, 504: return .failed("GET \(path) answered \(status)")
        default: return .up
        }
    }

    /// Reads up to the end of the status line.
    private final class StatusLineHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private var line = ByteBuffer()
        private let result: Once

        init(result: Once) { self.result = result }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            line.writeBuffer(&bytes)
            let view = line.readableBytesView
            guard let end = view.firstIndex(of: UInt8(ascii: "\n")) else {
                if line.readableBytes > ServerProbe.lineLimit { result.succeed(.failed("GET \(ServerProbe.path): no status line")) }
                return
            }
            let text = String(decoding: view[view.startIndex..<end], as: UTF8.self)
            let parts = text.split(separator: " ", maxSplits: 2)
            if parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status) {
                result.succeed(ServerProbe.result(status: status))
            } else {
                result.succeed(.failed("GET \(ServerProbe.path): not an HTTP answer"))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            result.succeed(.failed("GET \(ServerProbe.path): closed before answering"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            result.succeed(.failed("GET \(ServerProbe.path): \(ConnectFailure.describe(error))"))
            context.close(promise: nil)
        }
    }
}
