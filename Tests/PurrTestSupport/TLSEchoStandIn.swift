import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PurrCore

/// An in-process TLS echo server on 127.0.0.1 (the server's own `ServerTLS`), for tests of the
/// client's TLS below the tunnel: each connection made with a given client handler.
public final class TLSEchoStandIn: Sendable {
    public let port: Int
    private let channel: any Channel
    private let group: any EventLoopGroup

    private init(port: Int, channel: any Channel, group: any EventLoopGroup) {
        self.port = port
        self.channel = channel
        self.group = group
    }

    public static func start(certificates: TestCertificates, group: any EventLoopGroup) async throws -> TLSEchoStandIn {
        let tls = try ServerTLS(certificatePath: certificates.certificateFile, keyPath: certificates.keyFile)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(tls.makeHandler())
                    try child.pipeline.syncOperations.addHandler(Echo())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TLSEchoStandIn(port: channel.localAddress?.port ?? 0, channel: channel, group: group)
    }

    public func stop() async {
        try? await channel.close()
    }

    /// One connection through `handler` (made on the connection's loop): `text` goes out and comes
    /// back, then the connection closes. Throws on a TLS failure or when the echo does not match.
    public func exchange(_ text: String, handler: @escaping @Sendable () throws -> NIOSSLClientHandler) async throws {
        let echoed = group.next().makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler())
                    try channel.pipeline.syncOperations.addHandler(Collect(expected: text.utf8.count, promise: echoed))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: text))
        let got = try await echoed.futureResult.get()
        try? await channel.close()
        guard got == text else { throw BlockingSocket.Failure(description: "echo mismatch: \(got)") }
    }
}

private final class Echo: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

private final class Collect: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let expected: Int
    private let promise: EventLoopPromise<String>
    private var received = ""

    init(expected: Int, promise: EventLoopPromise<String>) {
        self.expected = expected
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readString(length: buffer.readableBytes) ?? ""
        if received.utf8.count >= expected { promise.succeed(received) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(BlockingSocket.Failure(description: "closed after \(received.utf8.count) of \(expected) bytes"))
    }
}
