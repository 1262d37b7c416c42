import NIOCore
import NIOPosix

/// The demo's slow hop: a TCP relay on loopback that holds every chunk for `delay` before passing it
/// on, both ways, like a long path would (so the bytes in flight between the client and the server
/// grow with the rate). Demo traffic is small, so it does not push back.
final class DelayingRelay: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func start(group: any EventLoopGroup, to target: SocketAddress, delay: TimeAmount) async throws -> DelayingRelay {
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .connect(to: target)
                    .flatMap { outbound in
                        inbound.eventLoop.makeCompletedFuture {
                            try outbound.pipeline.syncOperations.addHandler(DelayHandler(peer: inbound, delay: delay))
                            try inbound.pipeline.syncOperations.addHandler(DelayHandler(peer: outbound, delay: delay))
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DelayingRelay(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}
