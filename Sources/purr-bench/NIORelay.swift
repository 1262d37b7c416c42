import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One hop of a two-hop relay built on swift-nio the shortest way (the glue of NIO's own proxy
/// example): accept, connect onward, copy both ways with half-closure, nothing else. Against the C
/// relays it shows what the framework costs per connection; against Purr, what Purr adds to it
/// (HTTP upgrade, routing, stats, logging, timeouts). One event-loop thread, like one C hop.
final class NIORelay: Sendable {
    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let listener: any Channel
    private let clock: clockid_t?

    init(next: Int) throws(BenchError) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: next)
            listener = try ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 1024)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.autoRead, value: false)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { inbound in
                    ClientBootstrap(group: inbound.eventLoop)
                        .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                        .connect(to: target)
                        .flatMapThrowing { outbound in
                            let (a, b) = NIOGlue.pair()
                            try inbound.pipeline.syncOperations.addHandler(a)
                            try outbound.pipeline.syncOperations.addHandler(b)
                            try inbound.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
                        }
                }
                .bind(host: "127.0.0.1", port: 0).wait()
            clock = try group.next().submit { () -> clockid_t? in
                var id = clockid_t()
                return pthread_getcpuclockid(pthread_self(), &id) == 0 ? id : nil
            }.wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw BenchError("NIO relay: \(error)")
        }
        self.group = group
        port = listener.localAddress?.port ?? 0
    }

    /// CPU seconds the loop's thread has used.
    var cpuSeconds: Double {
        guard let clock else { return 0 }
        var time = timespec()
        guard clock_gettime(clock, &time) == 0 else { return 0 }
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    func stop() {
        try? listener.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Copies what one channel reads into its partner, stops reading while the partner cannot write,
/// passes a half-close on, and closes both once both directions ended.
private final class NIOGlue: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: NIOGlue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputEnded = false
    private var outputEnded = false

    static func pair() -> (NIOGlue, NIOGlue) {
        let a = NIOGlue()
        let b = NIOGlue()
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else { return }
        inputEnded = true
        partner?.outputEnded = true
        partner?.context?.close(mode: .output, promise: nil)
        if outputEnded { context.close(promise: nil) }
        if let partner, partner.inputEnded { partner.context?.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.writable() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    private func writable() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}
