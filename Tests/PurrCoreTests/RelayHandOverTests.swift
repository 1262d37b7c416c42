import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

@testable import PurrCore

/// The rules of where bytes wait before a relay (`RelayHandOver`'s comment), each in an `EmbeddedChannel`:
/// behind an accepted head (server) and behind a 101 (client), the end of input, a refusal, the hold
/// limit, WebSocket frames behind the handshake, and early data.
final class RelayHandOverTests: XCTestCase {
    /// A server's handshake handler reduced to the hand-over: accepts any head, hands over at its end.
    final class AcceptingHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        let handOver: RelayHandOver
        let webSocket: RelayHandOver.WebSocket?
        let refuse: Bool
        private(set) var handedOver = false

        init(_ handOver: RelayHandOver, webSocket: RelayHandOver.WebSocket? = nil, refuse: Bool = false) {
            self.handOver = handOver
            self.webSocket = webSocket
            self.refuse = refuse
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head:
                if refuse { handOver.refused() } else { handOver.headAccepted() }
            case .body:
                break
            case .end:
                guard !refuse else { return }
                handOver.complete(from: context, webSocket: webSocket) { result in
                    if case .success = result { self.handedOver = true }
                }
            }
        }
    }

    static let head = "GET /t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\n\r\n"

    /// A server connection with the hand-over's handlers; `handler` made for it.
    func serverChannel(
        webSocket: RelayHandOver.WebSocket? = nil, refuse: Bool = false
    ) throws -> (EmbeddedChannel, () -> AcceptingHandler) {
        let channel = EmbeddedChannel()
        var made: AcceptingHandler?
        try RelayHandOver.install(
            on: channel, headLimit: 4096, decoder: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        ) { handOver in
            let handler = AcceptingHandler(handOver, webSocket: webSocket, refuse: refuse)
            made = handler
            return handler
        }
        return (channel, { made! })
    }

    func held(_ channel: EmbeddedChannel) throws -> (text: String, inputClosed: Bool) {
        let holder = try channel.pipeline.syncOperations.handler(type: RelayEndHandler.self)
        return (holder.buffered.map { String(buffer: $0) } ?? "", holder.inputClosed)
    }

    /// Rule 2 and 4: the bytes behind an accepted head and the end of input that came with them wait at
    /// the tail once the gate and the decoder are gone; nothing else is left.
    func testBytesAndTheEndOfInputBehindAnAcceptedHeadWaitAtTheTail() throws {
        let (channel, handler) = try serverChannel()
        try channel.writeInbound(ByteBuffer(string: Self.head + "SSH-2.0-client\r\n"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        // The decoder's end for the head came with it; the hand-over ran.
        channel.embeddedEventLoop.run()
        XCTAssertTrue(handler().handedOver)
        let waiting = try held(channel)
        XCTAssertEqual(waiting.text, "SSH-2.0-client\r\n")
        XCTAssertTrue(waiting.inputClosed, "the end of input waited in the gate, then reached the tail")
        XCTAssertNil(try? channel.pipeline.syncOperations.handler(type: HandshakeGate.self))
        XCTAssertNil(try? channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self))
        XCTAssertNil(try? channel.pipeline.syncOperations.handler(type: AcceptingHandler.self))
        // What comes now goes straight to the tail.
        try channel.writeInbound(ByteBuffer(string: "more"))
        XCTAssertEqual(try held(channel).text, "SSH-2.0-client\r\nmore")
        _ = try? channel.finish()
    }

    /// Rule 2: after a refusal every byte is dropped in the gate; nothing is held.
    func testAfterARefusalBytesAreDropped() throws {
        let (channel, _) = try serverChannel(refuse: true)
        try channel.writeInbound(ByteBuffer(string: Self.head))
        for _ in 0..<100 { try channel.writeInbound(ByteBuffer(repeating: 0x41, count: 1000)) }
        XCTAssertEqual(try held(channel).text, "", "nothing reached the tail")
        XCTAssertNotNil(try? channel.pipeline.syncOperations.handler(type: HandshakeGate.self), "the gate stays to drop")
        _ = try? channel.finish()
    }

    /// Whether the channel's reading was turned off (EmbeddedChannel records options; it always reads).
    func readingStopped(_ channel: EmbeddedChannel) -> Bool {
        let last = channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }
        return (last?.value as? Bool) == false
    }

    /// Rules 1 and 2: past the hold limit, reading stops (the relay turns it back on); nothing is lost.
    func testReadingStopsPastTheHoldLimit() throws {
        let (channel, _) = try serverChannel()
        try channel.writeInbound(ByteBuffer(string: "GET /t HTTP/1.1\r\nHost: x\r\nUpgrade: purr\r\nConnection: Upgrade\r\n"))
        XCTAssertFalse(readingStopped(channel))
        // Behind the accepted head, in the same read: the decoder holds them until it leaves.
        var bytes = ByteBuffer(string: "\r\n")
        bytes.writeRepeatingByte(0x42, count: RelayHandOver.holdLimit + 1)
        try channel.writeInbound(bytes)
        channel.embeddedEventLoop.run()
        XCTAssertTrue(readingStopped(channel), "reading stopped past the limit")
        XCTAssertEqual(try held(channel).text.utf8.count, RelayHandOver.holdLimit + 1, "nothing lost")

        // A channel without a handshake (a target, an app's connection): the same limit at its tail.
        let plain = EmbeddedChannel()
        try RelayHandOver.holdEarlyBytes(on: plain)
        try plain.writeInbound(ByteBuffer(repeating: 0x43, count: RelayHandOver.holdLimit))
        XCTAssertFalse(readingStopped(plain))
        try plain.writeInbound(ByteBuffer(repeating: 0x43, count: 1))
        XCTAssertTrue(readingStopped(plain))
        _ = try? channel.finish()
        _ = try? plain.finish()
    }

    /// Rule 4: with WebSocket framing, the frames behind the head are decoded before they wait.
    func testWebSocketFramesBehindTheHeadAreDecodedBeforeTheyWait() throws {
        let webSocket = RelayHandOver.WebSocket(role: .server, options: .init())
        let (channel, handler) = try serverChannel(webSocket: webSocket)
        var bytes = ByteBuffer(string: Self.head)
        // A masked binary frame from the client: "hi".
        let mask: [UInt8] = [1, 2, 3, 4]
        bytes.writeBytes([0x82, 0x82] + mask + zip(Array("hi".utf8), mask).map { $0 ^ $1 })
        try channel.writeInbound(bytes)
        channel.embeddedEventLoop.run()
        XCTAssertTrue(handler().handedOver)
        XCTAssertNotNil(try? channel.pipeline.syncOperations.handler(type: WebSocketFrameBridge.self))
        XCTAssertEqual(try held(channel).text, "hi")
        _ = try? channel.finish()
    }

    /// Rule 3 and 4 on the client: the handshake handler's leftovers reach the tail as it leaves.
    func testClientLeftoversReachTheTail() throws {
        final class RawHandshake: ChannelInboundHandler, RemovableChannelHandler {
            typealias InboundIn = ByteBuffer
            let handOver: RelayHandOver
            init(_ handOver: RelayHandOver) { self.handOver = handOver }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                var bytes = unwrapInboundIn(data)
                _ = bytes.readSlice(length: 4)  // "101 " stands for a head
                handOver.complete(from: context, leftovers: bytes) { _ in }
            }
        }
        let channel = EmbeddedChannel()
        try RelayHandOver.install(on: channel) { RawHandshake($0) }
        try channel.writeInbound(ByteBuffer(string: "101 banner"))
        try channel.writeInbound(ByteBuffer(string: "+more"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        let waiting = try held(channel)
        XCTAssertEqual(waiting.text, "banner+more")
        XCTAssertTrue(waiting.inputClosed)
        XCTAssertNil(try? channel.pipeline.syncOperations.handler(type: RawHandshake.self))
        _ = try? channel.finish()
    }

    /// Rule 3: early data goes from the app's tail to the sink, up to the limit; after `stop()` bytes
    /// wait at the tail again.
    func testEarlyBytesAreForwardedUpToTheLimitThenWaitAgain() throws {
        let app = EmbeddedChannel()
        try RelayHandOver.holdEarlyBytes(on: app)
        try app.writeInbound(ByteBuffer(string: "early"))
        var sent = ""
        let forwarding = try XCTUnwrap(RelayHandOver.forwardEarlyBytes(of: app, upTo: 8) { sent += String(buffer: $0) })
        XCTAssertEqual(sent, "early", "what was held goes first")
        try app.writeInbound(ByteBuffer(string: "abc"))
        XCTAssertEqual(sent, "earlyabc")
        XCTAssertTrue(readingStopped(app), "the limit is reached: reading stops")
        forwarding.stop()
        try app.writeInbound(ByteBuffer(string: "late"))
        XCTAssertEqual(sent, "earlyabc")
        XCTAssertEqual(try held(app).text, "late")
        XCTAssertNil(RelayHandOver.forwardEarlyBytes(of: EmbeddedChannel(), upTo: 8) { _ in }, "nothing holds bytes there")
        _ = try? app.finish()
    }
}
