import NIOCore
import NIOHTTP1
import NIOWebSocket
import XCTest

@testable import PurrCore

final class WebSocketHandshakeTests: XCTestCase {
    func testAcceptValueIsRFC6455s() {
        // RFC 6455 section 1.3's worked example.
        XCTAssertEqual(WebSocketHandshake.accept(for: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        XCTAssertTrue(WebSocketHandshake.isValidKey(WebSocketHandshake.makeKey()))
        XCTAssertFalse(WebSocketHandshake.isValidKey("c2hvcnQ="))
    }

    func testClientChecksTheAnswer() throws {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        var headers = HTTPHeaders([("Upgrade", "websocket"), ("Connection", "Upgrade")])
        let original = HTTPResponseHead(
            version: .http1_1, status: .switchingProtocols,
            headers: HTTPHeaders(headers.map { $0 } + [("Purr-Request", "MEOW"), ("Purr-Version", "0.1.2")]))
        XCTAssertEqual(try WebSocketHandshake.validate(original, key: key), .originalPurr)
        XCTAssertThrowsError(
            try WebSocketHandshake.validate(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers), key: key))
        headers.add(name: "Sec-WebSocket-Accept", value: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        XCTAssertEqual(
            try WebSocketHandshake.validate(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers), key: key),
            .framed)
        XCTAssertThrowsError(
            try WebSocketHandshake.validate(
                HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers), key: "x" + key)
        ) {
            XCTAssertTrue("\($0)".contains("Sec-WebSocket-Accept"))
        }
    }

    func testQueryTokenIsReadAndRedacted() {
        // The reading and the redaction rule themselves: RequestTargetTests.
        let head = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: "/vnc?token=t0k",
            headers: [
                "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            ])
        let request = try? UpgradeRequest(validating: head)
        XCTAssertEqual(request?.token, "t0k")
        XCTAssertEqual(request?.routePath, "/vnc")
        XCTAssertEqual(request?.webSocketKey, "dGhlIHNhbXBsZSBub25jZQ==")
    }

    func testWordWiseUnmaskingMatchesNIOs() {
        let key: WebSocketMaskingKey = [0x12, 0x34, 0xAB, 0xCD]
        for count in [0, 1, 7, 8, 9, 63, 1000] {
            let plain = ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            var masked = plain
            masked.webSocketMask(key)
            XCTAssertEqual(WebSocketMasking.unmasked(masked, key: key), plain, "\(count) bytes")
        }
    }
}
