import Foundation
import NIOCore
import NIOPosix

/// Demo traffic on one connection: writes `chunk` bytes every `interval` (optionally along a slow
/// wave, so the sparkline has something to show) and throws away what it reads. The paced target
/// and the demo clients are both this.
final class RepeatingWriterHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var task: RepeatedTask?
    private let chunk: Int
    private let interval: TimeAmount
    private let startAfter: TimeAmount
    private let wave: Bool
    private var tick = 0

    init(chunk: Int, every interval: TimeAmount, startAfter: TimeAmount = .zero, wave: Bool = false) {
        self.chunk = chunk
        self.interval = interval
        self.startAfter = startAfter
        self.wave = wave
    }

    func channelActive(context: ChannelHandlerContext) {
        if chunk > 0 {
            let bytes = ByteBuffer(repeating: 0x2a, count: chunk)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            task = context.eventLoop.scheduleRepeatedTask(initialDelay: startAfter, delay: interval) { _ in
                let (handler, context) = bound.value
                handler.tick += 1
                guard context.channel.isWritable else { return }
                let scale = handler.wave ? 0.55 + 0.45 * sin(Double(handler.tick) / 25) : 1
                let length = max(1, Int(Double(bytes.readableBytes) * scale))
                context.writeAndFlush(NIOAny(bytes.getSlice(at: 0, length: length)!), promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
