import Crypto
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A real TCP server for tests to relay to: an echo (optionally speaking first) or a hashing sink.
public final class TestTarget: Sendable {
    public enum Behavior: Sendable {
        /// Echoes everything; half-closes its output after the client's EOF.
        case echo(banner: String?)
        /// Reads and hashes everything; reading can be paused to make a slow reader.
        /// With a banner, it sends the banner and shuts its own output first (a half-close from the far end).
        case sink(banner: String? = nil)
        /// Sends `bytes` at once (or once the first byte came: the relay is up then), then closes (with a
        /// reset if asked).
        case burstThenClose(bytes: Int, reset: Bool, afterFirstByte: Bool = false)
    }

    /// What a sink saw on one connection, once the client's side ended.
    public struct SinkResult: Sendable {
        public let bytes: Int
        public let sha256: String
    }

    public let port: Int
    let channel: any Channel
    let state: Mutex<Shared>
    public let readingPaused: Atomic<Bool>

    struct Shared {
        var accepted = 0
        var open = 0
        var sinkResults: [SinkResult] = []
        var pausedChannels: [any Channel] = []
    }

    private init(channel: any Channel, paused: Bool) {
        self.channel = channel
        self.port = channel.localAddress!.port!
        self.state = Mutex(Shared())
        self.readingPaused = Atomic(paused)
    }

    public static func start(
        _ behavior: Behavior,
        group: any EventLoopGroup,
        host: String = "127.0.0.1",
        port: Int = 0,
        pausedReading: Bool = false
    ) async throws -> TestTarget {
        let box = TargetBox()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let target = box.target else { throw ChannelError.ioOnClosedChannel }
                    target.state.withLock {
                        $0.accepted += 1
                        $0.open += 1
                    }
                    channel.closeFuture.whenComplete { _ in target.state.withLock { $0.open -= 1 } }
                    switch behavior {
                    case .echo(let banner):
                        try channel.pipeline.syncOperations.addHandler(EchoHandler(banner: banner))
                    case .sink(let banner):
                        // Checked and recorded under the lock `resumeReading` takes: a resume between the
                        // check and the record would otherwise leave this sink paused for good.
                        let paused = target.state.withLock { state -> Bool in
                            guard target.readingPaused.load(ordering: .relaxed) else { return false }
                            state.pausedChannels.append(channel)
                            return true
                        }
                        if paused { try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false) }
                        try channel.pipeline.syncOperations.addHandler(SinkHandler(target: target, banner: banner))
                    case .burstThenClose(let bytes, let reset, let afterFirstByte):
                        try channel.pipeline.syncOperations.addHandler(
                            BurstHandler(bytes: bytes, reset: reset, afterFirstByte: afterFirstByte))
                    }
                }
            }
            .bind(host: host, port: port).get()
        let target = TestTarget(channel: channel, paused: pausedReading)
        box.target = target
        return target
    }

    /// Lets paused sinks read at full speed again.
    public func resumeReading() {
        let channels = state.withLock { state -> [any Channel] in
            readingPaused.store(false, ordering: .relaxed)
            defer { state.pausedChannels = [] }
            return state.pausedChannels
        }
        // Only `autoRead` is turned on, on the channel's loop: that reads now if the channel is registered, or at
        // its activation. A sink's initializer runs on its own loop a tick before the server's loop registers
        // it; an explicit `read()` in between marks a read pending that is never issued, and the activation
        // then skips its own read: the sink stayed paused for good (seen under load).
        for channel in channels {
            channel.eventLoop.execute { try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true) }
        }
    }

    public var acceptedCount: Int { state.withLock { $0.accepted } }
    /// Connections to this target still open.
    public var openCount: Int { state.withLock { $0.open } }
    public var sinkResults: [SinkResult] { state.withLock { $0.sinkResults } }

    func recordSink(_ result: SinkResult) { state.withLock { $0.sinkResults.append(result) } }

    public func stop() async {
        try? await channel.close()
    }
}

/// Lets the child initializer find the target that is being built around it.
final class TargetBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _target: TestTarget?
    var target: TestTarget? {
        get { lock.withLock { _target } }
        set { lock.withLock { _target = newValue } }
    }
}

/// Echo with backpressure: stops reading while its own writes are backed up.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let banner: String?

    init(banner: String?) { self.banner = banner }

    func channelActive(context: ChannelHandlerContext) {
        if let banner { context.writeAndFlush(NIOAny(ByteBuffer(string: banner)), promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: writable)
        if writable { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(NIOAny(ByteBuffer()), promise: done)
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// Sends a burst, then closes: gracefully, or with a reset (SO_LINGER 0) like a crashed process.
final class BurstHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let bytes: Int
    let reset: Bool
    var waitsForFirstByte: Bool

    init(bytes: Int, reset: Bool, afterFirstByte: Bool) {
        self.bytes = bytes
        self.reset = reset
        self.waitsForFirstByte = afterFirstByte
    }

    func channelActive(context: ChannelHandlerContext) {
        if !waitsForFirstByte { burst(context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard waitsForFirstByte else { return }
        waitsForFirstByte = false
        burst(context)
    }

    private func burst(_ context: ChannelHandlerContext) {
        let payload = ByteBuffer(bytes: TestKit.randomPayload(count: bytes, seed: 77))
        context.writeAndFlush(NIOAny(payload)).assumeIsolated().whenComplete { _ in
            guard self.reset, let provider = context.channel as? any SocketOptionProvider else {
                context.close(promise: nil)
                return
            }
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// Hashes what it reads; at the client's EOF, records the result and closes.
final class SinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let target: TestTarget
    var hasher = SHA256()
    var bytes = 0

    let banner: String?

    init(target: TestTarget, banner: String?) {
        self.target = target
        self.banner = banner
    }

    func channelActive(context: ChannelHandlerContext) {
        if let banner {
            context.writeAndFlush(NIOAny(ByteBuffer(string: banner))).assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        bytes += buffer.readableBytes
        buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
    }

    var recorded = false

    /// NIO closes a channel whose output is already shut without an `inputClosed` event, so the
    /// result is recorded at whichever comes first.
    func record() {
        guard !recorded else { return }
        recorded = true
        target.recordSink(.init(bytes: bytes, sha256: hasher.finalize().hex))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            record()
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        record()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

extension Sequence where Element == UInt8 {
    public var hex: String { map { String(format: "%02x", $0) }.joined() }
}

extension SHA256.Digest {
    public var hex: String { Array(self).hex }
}
