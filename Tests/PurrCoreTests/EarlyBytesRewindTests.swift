import NIOCore
import NIOEmbedded
import XCTest

@testable import PurrCore

/// A tunnel with several servers keeps a copy of the early bytes it sent until the 101: a server that
/// refuses before it gives them back, in front of what came meanwhile, for the next server.
final class EarlyBytesRewindTests: XCTestCase {
    private func holder(_ channel: EmbeddedChannel) throws -> RelayEndHandler {
        try channel.pipeline.syncOperations.handler(type: RelayEndHandler.self)
    }

    func testRefusedEarlyBytesGoBackInFrontOfWhatIsHeld() throws {
        let app = EmbeddedChannel()
        try RelayHandOver.holdEarlyBytes(on: app)
        let held = try holder(app)
        held.keepsForwarded = true
        try app.writeInbound(ByteBuffer(string: "first"))
        var toFirstServer = ""
        let forwarding = try XCTUnwrap(RelayHandOver.forwardEarlyBytes(of: app, upTo: 64) { toFirstServer += String(buffer: $0) })
        try app.writeInbound(ByteBuffer(string: "-second"))
        forwarding.stop()  // the first server refused
        try app.writeInbound(ByteBuffer(string: "-third"))
        XCTAssertEqual(toFirstServer, "first-second")
        XCTAssertEqual(held.rewind(), 12, "what the first server got comes back (to uncount)")
        XCTAssertEqual(held.buffered.map { String(buffer: $0) }, "first-second-third", "in order, nothing lost")
        XCTAssertEqual(held.rewind(), 0, "once")

        // The next server gets every byte.
        var toSecondServer = ""
        _ = try XCTUnwrap(RelayHandOver.forwardEarlyBytes(of: app, upTo: 64) { toSecondServer += String(buffer: $0) })
        try app.writeInbound(ByteBuffer(string: "-fourth"))
        XCTAssertEqual(toSecondServer, "first-second-third-fourth")
        _ = try? app.finish()
    }

    func testWithoutKeepingNothingIsCopiedOrRewound() throws {
        let app = EmbeddedChannel()
        try RelayHandOver.holdEarlyBytes(on: app)
        try app.writeInbound(ByteBuffer(string: "one server"))
        let forwarding = try XCTUnwrap(RelayHandOver.forwardEarlyBytes(of: app, upTo: 64) { _ in })
        forwarding.stop()
        XCTAssertEqual(try holder(app).rewind(), 0)
        XCTAssertNil(try holder(app).buffered, "sent is sent")
        _ = try? app.finish()
    }

    func testTheCopyIsBoundedByTheEarlyDataLimit() throws {
        let app = EmbeddedChannel()
        try RelayHandOver.holdEarlyBytes(on: app)
        let held = try holder(app)
        held.keepsForwarded = true
        var sent = 0
        _ = try XCTUnwrap(RelayHandOver.forwardEarlyBytes(of: app, upTo: 1024) { sent += $0.readableBytes })
        let chunk = ByteBuffer(repeating: 7, count: 512)
        for _ in 0..<2 { try app.writeInbound(chunk) }
        XCTAssertEqual(sent, 1024)
        let autoRead = app.options.last { $0.option is ChannelOptions.Types.AutoReadOption }
        XCTAssertEqual(autoRead?.value as? Bool, false, "the limit is reached: reading stops, so the copy grows no more")
        XCTAssertEqual(held.rewind(), 1024, "the copy holds what was sent")
        XCTAssertEqual(held.buffered?.readableBytes, 1024)
        _ = try? app.finish()
    }

    /// The limit is exact: a read that crosses it is split, the rest waits at the tail, in order.
    func testNoMoreThanTheLimitGoesOutEarly() throws {
        let app = EmbeddedChannel()
        try RelayHandOver.holdEarlyBytes(on: app)
        let held = try holder(app)
        held.keepsForwarded = true
        try app.writeInbound(ByteBuffer(string: "0123456789"))  // held before the request goes out
        var sent = ""
        let forwarding = try XCTUnwrap(RelayHandOver.forwardEarlyBytes(of: app, upTo: 6) { sent += String(buffer: $0) })
        XCTAssertEqual(sent, "012345", "what was held, up to the limit")
        XCTAssertEqual(held.buffered.map { String(buffer: $0) }, "6789")
        try app.writeInbound(ByteBuffer(string: "abc"))
        XCTAssertEqual(sent, "012345", "nothing more once the limit is reached")
        XCTAssertEqual(held.buffered.map { String(buffer: $0) }, "6789abc", "in order")
        forwarding.stop()
        XCTAssertEqual(held.rewind(), 6)
        XCTAssertEqual(held.buffered.map { String(buffer: $0) }, "0123456789abc")

        let fresh = EmbeddedChannel()
        try RelayHandOver.holdEarlyBytes(on: fresh)
        var out = ""
        _ = try XCTUnwrap(RelayHandOver.forwardEarlyBytes(of: fresh, upTo: 4) { out += String(buffer: $0) })
        try fresh.writeInbound(ByteBuffer(string: "wxyz-rest"))
        XCTAssertEqual(out, "wxyz", "a read crossing the limit is split")
        XCTAssertEqual(try holder(fresh).buffered.map { String(buffer: $0) }, "-rest")
        _ = try? app.finish()
        _ = try? fresh.finish()
    }
}
