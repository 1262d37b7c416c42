import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PurrCore
import PurrTestSupport
import XCTest

final class WireTests: XCTestCase {
    /// A request head as NIOHTTP1's decoder (the server's) reads it.
    func parseRequest(_ text: String) throws -> HTTPRequestHead {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
        defer { _ = try? channel.finish() }
        try channel.writeInbound(ByteBuffer(string: text))
        guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            throw BlockingSocket.Failure(description: "incomplete")
        }
        return head
    }

    /// A response head as the client's decoder reads it, and what the decoder forwards when it is removed.
    func parseResponse(_ bytes: [UInt8]) throws -> (HTTPResponseHead, ByteBuffer?) {
        let channel = EmbeddedChannel()
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        try channel.pipeline.syncOperations.addHandler(decoder)
        defer { _ = try? channel.finish() }
        try channel.writeOutbound(HTTPClientRequestPart.head(UpgradeRequest(path: "/", host: "x").head))
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        guard case .head(let head) = try channel.readInbound(as: HTTPClientResponsePart.self) else {
            throw BlockingSocket.Failure(description: "incomplete")
        }
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
            if case .end = part { break }
        }
        let removed = channel.pipeline.syncOperations.removeHandler(decoder)
        channel.embeddedEventLoop.run()  // the decoder leaves on the loop's next turn
        try removed.wait()
        return (head, try channel.readInbound(as: ByteBuffer.self))
    }

    func testOriginalClientRequestValidates() throws {
        let bytes = try WireFixtures.originalClientRequest(port: 58853)
        let head = try parseRequest(String(decoding: bytes, as: UTF8.self))
        let request = try UpgradeRequest(validating: head)
        XCTAssertEqual(request.path, "/ssh")
        XCTAssertEqual(request.upgrade, .purr)
        XCTAssertEqual(request.version, "0.1.2")
        XCTAssertNil(request.token)
    }

    func testOurClientRequestIsTheOriginalClientsBytes() throws {
        let original = try WireFixtures.originalClientRequest(port: 58853)
        let ours = UpgradeRequest(path: "/ssh", host: "127.0.0.1:58853").encoded()
        XCTAssertEqual(Array(ours.utf8), original)
    }

    func testOur101IsTheOriginalServersBytes() throws {
        let original = try WireFixtures.originalServer101()
        XCTAssertEqual(Array(UpgradeResponse.switching(.purr).utf8), original)
        let websocket = UpgradeResponse.switching(.websocket)
        XCTAssertEqual(
            websocket, String(decoding: original, as: UTF8.self).replacingOccurrences(of: "Upgrade: purr", with: "Upgrade: websocket"))
    }

    func testOurRequestThroughNIOsEncoderIsTheOriginalClientsBytes() throws {
        let channel = EmbeddedChannel(handler: HTTPRequestEncoder())
        defer { _ = try? channel.finish() }
        try channel.writeOutbound(HTTPClientRequestPart.head(UpgradeRequest(path: "/ssh", host: "127.0.0.1:58853").head))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        var written = ByteBuffer()
        while var part = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(var buffer) = part else { return XCTFail("file region") }
            written.writeBuffer(&buffer)
            part = .byteBuffer(buffer)
        }
        XCTAssertEqual(Array(written.readableBytesView), try WireFixtures.originalClientRequest(port: 58853))
    }

    func testOriginal101PassesClientValidation() throws {
        let (head, rest) = try parseResponse(try WireFixtures.originalServer101() + Array("SSH-2.0-x".utf8))
        XCTAssertNoThrow(try UpgradeResponse.validate(head, expected: .purr))
        XCTAssertEqual(rest.map { String(buffer: $0) }, "SSH-2.0-x", "bytes after the 101 belong to the stream")
        XCTAssertThrowsError(try UpgradeResponse.validate(head, expected: .websocket))
    }

    func testHeaderNamesAreCaseInsensitiveAndConnectionIsAList() throws {
        let head = try parseRequest(
            "GET /db HTTP/1.1\r\nhost: x\r\nCONNECTION: keep-alive, Upgrade\r\npurr-request: MEOW\r\nPURR-VERSION: 0.1.0\r\nupgrade: WebSocket\r\n\r\n"
        )
        let request = try UpgradeRequest(validating: head)
        XCTAssertEqual(request.upgrade, .websocket)
        XCTAssertEqual(request.version, "0.1.0")
    }

    func testRequestValidationNamesWhatIsWrong() throws {
        let base = ["Connection: Upgrade", "Purr-Request: MEOW", "Purr-Version: 0.1.1", "Upgrade: purr"]
        func check(_ lines: [String], method: String = "GET", _ expected: String) throws {
            let head = try parseRequest("\(method) /x HTTP/1.1\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n")
            XCTAssertThrowsError(try UpgradeRequest(validating: head)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
            }
        }
        XCTAssertNoThrow(
            try UpgradeRequest(validating: try parseRequest("GET /x HTTP/1.1\r\n" + base.map { $0 + "\r\n" }.joined() + "\r\n")))
        try check(base, method: "POST", "method POST")
        try check(Array(base.dropFirst()), "missing Connection")
        try check(["Connection: keep-alive"] + base.dropFirst(), "Connection: keep-alive")
        try check([base[0], base[2], base[3]], "missing Purr-Request")
        try check([base[0], "Purr-Request: WOOF", base[2], base[3]], "Purr-Request: WOOF")
        try check([base[0], base[1], "Purr-Version: 0.2.0", base[3]], "unsupported Purr-Version 0.2.0")
        try check(Array(base.dropLast()), "missing Upgrade")
        try check(Array(base.dropLast()) + ["Upgrade: h2c"], "Upgrade: h2c")
    }

    func testTokenFromAuthorizationOrPurrToken() throws {
        let common = "Connection: Upgrade\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\nUpgrade: purr\r\n"
        let bearer = try UpgradeRequest(validating: parseRequest("GET / HTTP/1.1\r\n\(common)Authorization: Bearer s3cret\r\n\r\n"))
        XCTAssertEqual(bearer.token, "s3cret")
        let header = try UpgradeRequest(validating: parseRequest("GET / HTTP/1.1\r\n\(common)Purr-Token: t2\r\n\r\n"))
        XCTAssertEqual(header.token, "t2")
    }

    func testNIOAcceptsWhatAnUpgradeMayNotBeAndValidationRefusesIt() throws {
        let purr = "Connection: Upgrade\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\nUpgrade: purr\r\n"
        func refused(_ text: String, _ expected: String) throws {
            XCTAssertThrowsError(try UpgradeRequest(validating: parseRequest(text))) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
                XCTAssertEqual((error as? UpgradeRequestError)?.isMalformed, true)
            }
        }
        try refused("GET http://evil/ssh HTTP/1.1\r\n\(purr)\r\n", "request target must be a path")
        try refused("GET * HTTP/1.1\r\n\(purr)\r\n", "request target must be a path")
        try refused("GET /ssh HTTP/1.1\r\n\(purr)Content-Length: 5\r\n\r\nhello", "cannot have a body")
        try refused("GET /ssh HTTP/1.1\r\n\(purr)Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "cannot have a body")
        XCTAssertNoThrow(try UpgradeRequest(validating: parseRequest("GET /ssh HTTP/1.1\r\n\(purr)Content-Length: 0\r\n\r\n")))
        XCTAssertNoThrow(try UpgradeRequest(validating: parseRequest("GET /ssh HTTP/1.0\r\n\(purr)\r\n")))
    }

    func testHandshakeGateLimitsTheHeadAndHoldsTheEndOfInput() throws {
        let gate = HandshakeGate(limit: 64)
        let channel = EmbeddedChannel(handler: gate)
        defer { _ = try? channel.finish() }
        XCTAssertNoThrow(try channel.writeInbound(ByteBuffer(string: String(repeating: "a", count: 60))))
        XCTAssertThrowsError(try channel.writeInbound(ByteBuffer(string: "bbbbb"))) { XCTAssertTrue($0 is HandshakeGate.HeadTooLarge) }

        let held = HandshakeGate(limit: 64)
        let second = EmbeddedChannel(handler: held)
        defer { _ = try? second.finish() }
        let events = EventRecorder()
        try second.pipeline.syncOperations.addHandler(events)
        held.headComplete(accepted: true)
        second.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertFalse(events.sawInputClosed, "the end of input waits while the decoder still holds bytes")
        held.release()
        XCTAssertTrue(events.sawInputClosed)
    }

    func testErrorResponseIsOneLine() {
        let response = UpgradeResponse.error(status: 404, reason: "Not Found", message: "no route\nfor /x")
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        XCTAssertTrue(response.hasSuffix("\r\n\r\nno route for /x\n"))
        XCTAssertTrue(response.contains("Content-Length: 16\r\n"))
    }

    func testResponseValidationDescribesFailures() throws {
        let (head, _) = try parseResponse(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc".utf8))
        XCTAssertThrowsError(try UpgradeResponse.validate(head, expected: .purr)) {
            XCTAssertEqual("\($0)", "server answered 404 Not Found")
        }
    }

    func testEarlyDataIsOfferedAndAnsweredOnlyByOurs() throws {
        var offer = UpgradeRequest(path: "/t", host: "x")
        offer.offersEarlyData = true
        XCTAssertTrue(offer.encoded().contains("\r\nPurr-Early-Data: 1\r\n"))
        XCTAssertTrue(try UpgradeRequest(validating: parseRequest(offer.encoded())).offersEarlyData)
        let original = try WireFixtures.originalClientRequest(port: 58853)
        XCTAssertFalse(try UpgradeRequest(validating: parseRequest(String(decoding: original, as: UTF8.self))).offersEarlyData)
        let answer = UpgradeResponse.switching(.purr, earlyData: true)
        XCTAssertTrue(answer.hasSuffix("Connection: Upgrade\r\nPurr-Early-Data: 1\r\n\r\n"))
        let (head, _) = try parseResponse(Array(answer.utf8))
        XCTAssertTrue(UpgradeResponse.acceptsEarlyData(head))
        XCTAssertNoThrow(try UpgradeResponse.validate(head, expected: .purr))
        let (plain, _) = try parseResponse(try WireFixtures.originalServer101())
        XCTAssertFalse(UpgradeResponse.acceptsEarlyData(plain))
    }

    func testConstantTimeEquals() {
        XCTAssertTrue(ConstantTime.equals("secret", "secret"))
        XCTAssertFalse(ConstantTime.equals("secret", "secreT"))
        XCTAssertFalse(ConstantTime.equals("secret", "secret2"))
        XCTAssertFalse(ConstantTime.equals("", "x"))
        XCTAssertTrue(ConstantTime.equals("", ""))
    }
}

/// Records the events that reach the end of a pipeline.
final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private(set) var sawInputClosed = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { sawInputClosed = true }
    }
}
