import NIOCore
import NIOEmbedded
import XCTest

@testable import PurrCore

/// The handler at a relayed channel's tail holds its early bytes and then is its half of the relay: two
/// `EmbeddedChannel`s on one loop, joined by a `RelaySession`.
final class RelayEndHandlerTests: XCTestCase {
    /// Records `close(mode: .output)` (an `EmbeddedChannel` has no half-close of its own). `likeNIO`: once
    /// the input ended, a close of the output is a full close, as NIO's sockets and NIOSSL make it.
    final class OutputCloseRecorder: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
        private(set) var outputClosed = false
        private var inputClosed = false
        private var closedAtOnce = false
        let likeNIO: Bool

        init(likeNIO: Bool = false) {
            self.likeNIO = likeNIO
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event { inputClosed = true }
            context.fireUserInboundEventTriggered(event)
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            guard mode == .output else {
                context.close(mode: mode, promise: promise)
                return
            }
            outputClosed = true
            if likeNIO && inputClosed {
                // NIO closes at once: what is written from now on fails (an `EmbeddedChannel` closes a tick later).
                closedAtOnce = true
                context.close(mode: .all, promise: promise)
            } else {
                promise?.succeed(())
            }
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            guard !closedAtOnce else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            context.write(data, promise: promise)
        }
    }

    private let loop = EmbeddedEventLoop()

    private func relayedChannel(likeNIO: Bool = false) throws -> (EmbeddedChannel, OutputCloseRecorder) {
        let recorder = OutputCloseRecorder(likeNIO: likeNIO)
        let channel = EmbeddedChannel(handler: recorder, loop: loop)
        try RelayHandOver.holdEarlyBytes(on: channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    private func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    func testHeldBytesAndAHeldEndOfInputPassOnAtTheJoinCountedWhereTheyWereRead() throws {
        let (app, appOutput) = try relayedChannel()
        let (server, serverOutput) = try relayedChannel()
        try app.writeInbound(ByteBuffer(string: "early "))
        try app.writeInbound(ByteBuffer(string: "bytes"))
        app.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try server.writeInbound(ByteBuffer(string: "banner"))
        XCTAssertEqual(try written(server), "", "nothing moves before the join")

        let up = ByteCounter()
        let down = ByteCounter()
        let session = RelaySession(app, server, aCounter: up, bCounter: down)
        session.start()
        XCTAssertEqual(try written(server), "early bytes")
        XCTAssertEqual(try written(app), "banner")
        XCTAssertEqual(up.total, 11)
        XCTAssertEqual(down.total, 6)
        XCTAssertTrue(serverOutput.outputClosed, "the app's end of input, held, shuts the server's output")
        XCTAssertFalse(appOutput.outputClosed)

        // Relaying now: the same handler passes what comes, and counts it.
        try server.writeInbound(ByteBuffer(string: " and more"))
        XCTAssertEqual(try written(app), " and more")
        XCTAssertEqual(down.total, 15)
        server.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertTrue(appOutput.outputClosed)
        _ = try? app.finish()
        _ = try? server.finish()
    }

    func testTheJoinAddsAndRemovesNoHandler() throws {
        let (app, _) = try relayedChannel()
        let (server, _) = try relayedChannel()
        let appEnd = try app.pipeline.syncOperations.handler(type: RelayEndHandler.self)
        let pipelinesBefore = [app.pipeline.debugDescription, server.pipeline.debugDescription]
        RelaySession(app, server, aCounter: ByteCounter(), bCounter: ByteCounter()).start()
        XCTAssertEqual([app.pipeline.debugDescription, server.pipeline.debugDescription], pipelinesBefore)
        XCTAssertTrue(try app.pipeline.syncOperations.handler(type: RelayEndHandler.self) === appEnd)
        _ = try? app.finish()
        _ = try? server.finish()
    }

    func testAChannelWithoutATailGetsOneAtTheJoin() throws {
        let (app, _) = try relayedChannel()
        let bare = EmbeddedChannel(loop: loop)
        try bare.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        RelaySession(app, bare, aCounter: ByteCounter(), bCounter: ByteCounter()).start()
        try app.writeInbound(ByteBuffer(string: "hello"))
        XCTAssertEqual(try written(bare), "hello")
        _ = try? app.finish()
        _ = try? bare.finish()
    }

    /// Both sides held bytes and their end of input: every held byte is written before an end is passed
    /// on, since passing one on may close the other channel at once (both inputs have ended).
    func testHeldBytesGoOutBeforeAHeldEndThatClosesAtOnce() throws {
        let (app, _) = try relayedChannel(likeNIO: true)
        let (target, _) = try relayedChannel(likeNIO: true)
        try app.writeInbound(ByteBuffer(string: "hello"))
        app.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try target.writeInbound(ByteBuffer(string: "banner"))
        target.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        var reasons: [CloseReason] = []
        RelaySession(app, target, aCounter: ByteCounter(), bCounter: ByteCounter()).start().whenSuccess { reasons.append($0) }
        loop.run()
        XCTAssertEqual(try written(target), "hello")
        XCTAssertEqual(try written(app), "banner", "the target's banner reached the app before its end closed it")
        XCTAssertFalse(app.isActive)
        XCTAssertFalse(target.isActive)
        XCTAssertEqual(reasons.count, 1)
        XCTAssertFalse(reasons.first?.isFailure ?? true, "a clean end: \(reasons)")
    }

    /// A channel that closed just before the join (its handlers not yet torn down) told nobody: the join
    /// closes its partner instead of leaving it open with no one to relay to.
    func testAChannelClosedJustBeforeTheJoinClosesItsPartner() throws {
        let (app, _) = try relayedChannel()
        let (target, _) = try relayedChannel()
        target.pipeline.fireChannelInactive()  // as NIO does when the peer resets, before the teardown runs
        try target.close().wait()
        RelaySession(app, target, aCounter: ByteCounter(), bCounter: ByteCounter()).start()
        loop.run()
        XCTAssertFalse(app.isActive, "the app's side is not left open")
    }

    /// An error while holding (a reset, a TLS end without close_notify) is the session's first error.
    func testAnErrorWhileHoldingEndsTheRelayAsAFailure() throws {
        let (app, _) = try relayedChannel()
        let (target, _) = try relayedChannel()
        target.pipeline.fireErrorCaught(ChannelError.connectTimeout(.seconds(1)))
        var reasons: [CloseReason] = []
        let session = RelaySession(app, target, aCounter: ByteCounter(), bCounter: ByteCounter())
        session.start().whenSuccess { reasons.append($0) }
        try target.close().wait()
        loop.run()
        XCTAssertEqual(reasons.count, 1)
        XCTAssertTrue(reasons.first?.isFailure ?? false, "\(reasons)")
    }

    func testOneSideClosingClosesTheOtherAndTheSessionEndsOnce() throws {
        let (app, _) = try relayedChannel()
        let (server, _) = try relayedChannel()
        let session = RelaySession(app, server, aCounter: ByteCounter(), bCounter: ByteCounter())
        var reasons: [CloseReason] = []
        session.start().whenSuccess { reasons.append($0) }
        server.pipeline.fireErrorCaught(ChannelError.connectTimeout(.seconds(1)))
        loop.run()
        XCTAssertFalse(app.isActive, "the app's side is closed when the server's side fails")
        XCTAssertFalse(server.isActive)
        XCTAssertEqual(reasons.count, 1)
        XCTAssertTrue(reasons.first?.isFailure ?? false, "\(reasons)")
    }
}
