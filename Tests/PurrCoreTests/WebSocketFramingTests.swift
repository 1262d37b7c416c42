import NIOCore
import NIOEmbedded
import NIOWebSocket
import PurrCore
import PurrTestSupport
import XCTest

/// Purr's own frame writer and streaming parser against NIOWebSocket's encoder and decoder: byte-equal
/// frames for random payloads (sizes 0 to 1 MiB, every length form, every key alignment), and a parser
/// that hands out exactly the payloads NIO's decoder reads, whatever the cuts between reads.
final class WebSocketFramingTests: XCTestCase {
    /// The sizes where a header changes shape, and random ones up to 1 MiB.
    static func sizes(_ random: inout SeededRandom) -> [Int] {
        var sizes = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 125, 126, 127, 65535, 65536, 65537, 1 << 20]
        for _ in 0..<40 { sizes.append(random.below(1 << 20) + 1) }
        for _ in 0..<40 { sizes.append(random.below(300)) }
        return sizes
    }

    static func key(_ random: inout SeededRandom) -> WebSocketMaskingKey {
        let value = random.next()
        return WebSocketMaskingKey((0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) })!
    }

    /// NIO's encoding of one frame, gathered from an EmbeddedChannel.
    static func nioEncoded(_ frame: WebSocketFrame) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: WebSocketFrameEncoder())
        try channel.writeOutbound(frame)
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        _ = try channel.finish()
        return bytes
    }

    func testFramesAreByteEqualToNIOsEncoder() throws {
        var random = SeededRandom(state: 0x5EED_F8A3_0000_0001)
        for size in Self.sizes(&random) {
            let payload = TestKit.randomPayload(count: size, seed: UInt64(size) | 1)
            for (opcode, masked) in [(WebSocketOpcode.binary, true), (.binary, false), (.ping, true), (.connectionClose, false)]
            where !opcode.isControlOpcode || size <= 125 {
                let key = masked ? Self.key(&random) : nil
                let ours = WebSocketFrameWriter.frame(
                    opcode: opcode, payload: ByteBuffer(bytes: payload), maskKey: key, allocator: ByteBufferAllocator())
                let theirs = try Self.nioEncoded(WebSocketFrame(fin: true, opcode: opcode, maskKey: key, data: ByteBuffer(bytes: payload)))
                XCTAssertEqual(Array(ours.readableBytesView), theirs, "size \(size), \(opcode), masked \(masked)")
            }
        }
    }

    /// A payload masked in pieces, each from its own offset (the phase), equals one masked in one go,
    /// for every start alignment of the pieces; and in place equals copied.
    func testMaskingInPiecesAtEveryAlignment() {
        var random = SeededRandom(state: 0x5EED_F8A3_0000_0002)
        for size in [1, 3, 15, 16, 17, 63, 64, 65, 129, 4099, 70_001] {
            let payload = TestKit.randomPayload(count: size, seed: UInt64(size))
            let key = Self.key(&random)
            var whole = ByteBuffer(bytes: payload)
            whole.webSocketMask(key)  // NIO's byte-at-a-time reference
            for firstCut in 0..<min(size, 8) {
                var pieces: [UInt8] = []
                var at = 0
                var cut = firstCut
                while at < size {
                    let end = min(size, at + max(1, cut))
                    let piece = ByteBuffer(bytes: payload[at..<end])
                    pieces += WebSocketMasking.unmasked(piece, key: key, phase: at & 3).readableBytesView
                    at = end
                    cut = 1 + random.below(97)
                }
                XCTAssertEqual(pieces, Array(whole.readableBytesView), "size \(size), first cut \(firstCut)")
            }
            var copied = ByteBuffer()
            WebSocketMasking.append(ByteBuffer(bytes: payload), masked: key, to: &copied)
            XCTAssertEqual(Array(copied.readableBytesView), Array(whole.readableBytesView))
        }
    }

    /// Our frames, read by NIO's decoder, give back every payload.
    func testNIOsDecoderReadsOurFrames() throws {
        var random = SeededRandom(state: 0x5EED_F8A3_0000_0003)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 2 << 20)))
        for size in Self.sizes(&random) {
            let payload = TestKit.randomPayload(count: size, seed: UInt64(size) ^ 0xABC)
            let frame = WebSocketFrameWriter.frame(
                opcode: .binary, payload: ByteBuffer(bytes: payload), maskKey: Self.key(&random), allocator: ByteBufferAllocator())
            try channel.writeInbound(frame)
            let decoded = try XCTUnwrap(try channel.readInbound(as: WebSocketFrame.self))
            XCTAssertEqual(Array(decoded.unmaskedData.readableBytesView), payload, "size \(size)")
        }
        _ = try channel.finish()
    }

    /// NIO's frames cut at random places: the parser's pieces add up to each payload, heads in order,
    /// control frames whole; it never holds a data payload back.
    func testParserStreamsWhatNIOEncodesWhereverTheReadsEnd() throws {
        var random = SeededRandom(state: 0x5EED_F8A3_0000_0004)
        var stream: [UInt8] = []
        var expected: [(opcode: WebSocketOpcode, payload: [UInt8])] = []
        for size in Self.sizes(&random).prefix(60) {
            let control = size <= 125 && random.below(4) == 0
            let opcode: WebSocketOpcode = control ? .ping : .binary
            let payload = TestKit.randomPayload(count: size, seed: UInt64(size) ^ 0x77)
            let key = random.below(2) == 0 ? Self.key(&random) : nil
            stream += try Self.nioEncoded(WebSocketFrame(fin: true, opcode: opcode, maskKey: key, data: ByteBuffer(bytes: payload)))
            expected.append((opcode, payload))
        }
        var parser = WebSocketFrameParser(maxFrame: 2 << 20)
        var got: [(opcode: WebSocketOpcode, payload: [UInt8])] = []
        var at = 0
        while at < stream.count {
            let end = min(stream.count, at + 1 + random.below(random.below(2) == 0 ? 20 : 200_000))
            var chunk = ByteBuffer(bytes: stream[at..<end])
            at = end
            while let event = try parser.next(from: &chunk) {
                switch event {
                case .head(let head):
                    got.append((head.opcode, []))
                case .payload(let piece):
                    XCTAssertGreaterThan(piece.readableBytes, 0)
                    got[got.count - 1].payload += piece.readableBytesView
                case .control(let head, let payload):
                    XCTAssertEqual(head.opcode, got.last?.opcode)
                    got[got.count - 1].payload = Array(payload.readableBytesView)
                }
            }
            // Every byte of a data payload that arrived has been handed out.
            XCTAssertEqual(chunk.readableBytes, 0)
        }
        XCTAssertEqual(got.count, expected.count)
        for (index, frame) in expected.enumerated() where index < got.count {
            XCTAssertEqual(got[index].opcode, frame.opcode, "frame \(index)")
            XCTAssertEqual(got[index].payload, frame.payload, "frame \(index)")
        }
    }

    func testParserRefusesWhatFramingForbids() {
        let cases: [([UInt8], NIOWebSocketError)] = [
            ([0x09, 0x00], .fragmentedControlFrame),  // ping without FIN
            ([0x89, 0x7E, 0x00, 0x80], .multiByteControlFrameLength),  // 128-byte ping
            ([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1], .invalidFrameLength),  // 64-bit length with the top bit set
            ([0x82, 0x7F, 0, 0, 0, 0, 0, 0x10, 0, 1], .invalidFrameLength),  // over maxFrame
        ]
        for (bytes, expected) in cases {
            var parser = WebSocketFrameParser(maxFrame: 1 << 20)
            var buffer = ByteBuffer(bytes: bytes)
            XCTAssertThrowsError(try parser.next(from: &buffer), "\(bytes)") { error in
                XCTAssertEqual(error as? NIOWebSocketError, expected)
            }
        }
    }

    /// One read full of empty frames is worked through a batch per turn of the event loop, so other
    /// connections on it get theirs; what comes behind waits in order, and reading stops meanwhile.
    func testAFloodOfTinyFramesIsReadABatchPerTurn() throws {
        final class Sink: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            var data: [UInt8] = []
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                self.data += Self.unwrapInboundIn(data).readableBytesView
            }
        }
        final class ReadCounter: ChannelOutboundHandler {
            typealias OutboundIn = Never
            var reads = 0
            func read(context: ChannelHandlerContext) {
                reads += 1
                context.read()
            }
        }
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try WebSocketFrameBridge.install(on: channel, role: .server, options: .init())
        let sink = Sink()
        try channel.pipeline.syncOperations.addHandler(sink)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        func frame(_ text: String) -> [UInt8] {
            Array(
                WebSocketFrameWriter.frame(
                    opcode: .binary, payload: ByteBuffer(string: text), maskKey: [1, 2, 3, 4], allocator: ByteBufferAllocator()
                ).readableBytesView)
        }
        var flood: [UInt8] = []
        for _ in 0..<(3 * WebSocketFrameBridge.framesPerTurn) { flood += frame("") }
        flood += frame("hello")
        try channel.writeInbound(ByteBuffer(bytes: flood))
        XCTAssertEqual(sink.data, [], "everything was read in one turn")
        try channel.writeInbound(ByteBuffer(bytes: frame(" world")))
        let readsBefore = counter.reads
        channel.read()
        XCTAssertEqual(counter.reads, readsBefore, "read on while frames wait their turn")
        channel.embeddedEventLoop.run()
        XCTAssertEqual(String(decoding: sink.data, as: UTF8.self), "hello world")
        XCTAssertEqual(counter.reads, readsBefore + 1, "the held read once the backlog is done")
        _ = try? channel.finish()
    }
}
