import NIOCore
import NIOPosix
import PurrCore
import PurrTestSupport
import Synchronization
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Accepted sockets skip the TCP options (four system calls each): the listener's are copied into them.
final class SocketTuningTests: XCTestCase {
    func testAnAcceptedSocketHasTheListenersKeepaliveAndNoDelay() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let seen = Mutex<[SocketOptionValue]?>(nil)
        let listener = try await ServerBootstrap(group: group)
            .serverChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try SocketTuning.applyToListener(channel) } }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try SocketTuning.apply(to: channel, accepted: true)
                    let values = try Self.tcpOptions(of: channel)
                    seen.withLock { $0 = values }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try BlockingSocket(port: listener.localAddress!.port!)
        XCTAssertTrue(TestKit.poll { seen.withLock { $0 } != nil })
        XCTAssertEqual(seen.withLock { $0 }, Self.expectedTCPOptions)
        client.close()
        try await listener.close()
        try await group.shutdownGracefully()
    }

    /// A dialed socket: NIO's `ClientBootstrap` sets no-delay (so `apply` does not again), `apply` keepalive.
    func testADialedSocketHasNoDelayAndKeepalive() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = LoopbackListener.open()
        defer { Glibc.close(server.fd) }
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try SocketTuning.apply(to: channel) } }
            .connect(host: "127.0.0.1", port: server.port).get()
        let values = try await channel.eventLoop.submit { try Self.tcpOptions(of: channel) }.get()
        XCTAssertEqual(values, Self.expectedTCPOptions)
        try await channel.close()
        try await group.shutdownGracefully()
    }

    /// No-delay, keepalive and (on Linux) its idle time, interval and count, as the socket has them.
    static func tcpOptions(of channel: any Channel) throws -> [SocketOptionValue] {
        let options = channel.syncOptions!
        var values = [
            try options.getOption(ChannelOptions.tcpOption(.tcp_nodelay)),
            try options.getOption(ChannelOptions.socketOption(.so_keepalive)),
        ]
        #if os(Linux)
            values.append(try options.getOption(ChannelOptions.tcpOption(.init(rawValue: TCP_KEEPIDLE))))
            values.append(try options.getOption(ChannelOptions.tcpOption(.init(rawValue: TCP_KEEPINTVL))))
            values.append(try options.getOption(ChannelOptions.tcpOption(.init(rawValue: TCP_KEEPCNT))))
        #endif
        return values
    }

    /// What `SocketTuning` sets.
    static var expectedTCPOptions: [SocketOptionValue] {
        var expected: [SocketOptionValue] = [1, 1]
        #if os(Linux)
            expected += [SocketOptionValue(SocketTuning.keepaliveIdle), SocketOptionValue(SocketTuning.keepaliveInterval)]
            expected.append(SocketOptionValue(SocketTuning.keepaliveCount))
        #endif
        return expected
    }
}
