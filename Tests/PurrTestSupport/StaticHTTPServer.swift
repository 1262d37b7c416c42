import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP server on 127.0.0.1 that serves fixed files (test pages, `browser/purr.js`) by path.
public final class StaticHTTPServer: Sendable {
    public let port: Int
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    /// - Parameter files: path (like `/purr.js`) to contents.
    public static func start(files: [String: String], group: any EventLoopGroup) async throws -> StaticHTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(FileHandler(files: files))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return StaticHTTPServer(channel: channel)
    }

    /// Stops listening (from synchronous code too, e.g. a `defer`).
    public func close() {
        channel.close(promise: nil)
    }

    final class FileHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let files: [String: String]

        init(files: [String: String]) {
            self.files = files
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            let body = files[path]
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: Self.contentType(path))
            headers.add(name: "Cache-Control", value: "no-store")
            let bytes = Array((body ?? "not found\n").utf8)
            headers.add(name: "Content-Length", value: String(bytes.count))
            let status: HTTPResponseStatus = body == nil ? .notFound : .ok
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        static func contentType(_ path: String) -> String {
            if path.hasSuffix(".js") || path.hasSuffix(".mjs") { return "text/javascript; charset=utf-8" }
            return "text/html; charset=utf-8"
        }
    }
}
