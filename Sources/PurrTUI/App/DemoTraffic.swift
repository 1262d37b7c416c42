import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A target that streams bytes at a steady, gently varying pace and throws away what it receives.
final class PacedSourceHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var task: RepeatedTask?
    private let bytesPerTick: Int
    private var tick = 0

    init(bytesPerSecond: Int) {
        bytesPerTick = bytesPerSecond / 10
    }

    func channelActive(context: ChannelHandlerContext) {
        let chunk = ByteBuffer(repeating: 0x2a, count: bytesPerTick)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(100)) { _ in
            let (handler, context) = bound.value
            handler.tick += 1
            // A slow wave, so the sparkline has something to show.
            let scale = 0.55 + 0.45 * sin(Double(handler.tick) / 25)
            guard context.channel.isWritable else { return }
            context.writeAndFlush(NIOAny(chunk.getSlice(at: 0, length: max(1, Int(Double(chunk.readableBytes) * scale)))!), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// A client of a demo tunnel: keeps one connection up, sends bursts now and then, reads everything.
final class DemoClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var task: RepeatedTask?
    private let burst: Int

    init(burst: Int) { self.burst = burst }

    func channelActive(context: ChannelHandlerContext) {
        if burst > 0 {
            let chunk = ByteBuffer(repeating: 0x2e, count: burst)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            task = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(250)) { _ in
                let context = bound.value
                if context.channel.isWritable { context.writeAndFlush(NIOAny(chunk), promise: nil) }
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// Keeps demo clients connected to their tunnels (reconnecting after a tunnel is closed and reopened).
final class DemoTraffic: Sendable {
    struct Client: Sendable {
        let tunnel: String
        let burst: Int
        /// Seconds between connection attempts when each connection is short-lived (a failing route).
        let everySeconds: Int
    }

    let group: EventLoopGroup
    let clients: [Client]
    private let connected = Mutex<[String: Channel]>([:])
    private let tick = Atomic<Int>(0)

    init(group: EventLoopGroup, clients: [Client]) {
        self.group = group
        self.clients = clients
    }

    /// Called once a second with each tunnel's local port (nil while it is not listening).
    func maintain(ports: [String: Int]) {
        let now = tick.wrappingAdd(1, ordering: .relaxed).newValue
        for client in clients {
            let alive = connected.withLock { $0[client.tunnel]?.isActive ?? false }
            guard !alive, let port = ports[client.tunnel], now % client.everySeconds == 0 else { continue }
            let burst = client.burst
            ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DemoClientHandler(burst: burst))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .whenSuccess { channel in self.connected.withLock { $0[client.tunnel] = channel } }
        }
    }

    func stop() {
        for channel in connected.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}
