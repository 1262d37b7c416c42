import Foundation
import NIOCore
import PurrCore
import PurrTestSupport
import XCTest

final class WireTests: XCTestCase {
    func parseRequest(_ text: String) throws -> HTTPHead {
        var parser = HTTPHeadParser(kind: .request)
        var buffer = ByteBuffer(string: text)
        guard case .complete(let head, _) = try parser.feed(&buffer) else {
            throw BlockingSocket.Failure(description: "incomplete")
        }
        return head
    }

    func testOriginalClientRequestValidates() throws {
        let bytes = try WireFixtures.originalClientRequest(bundle: .module, port: 58853)
        let head = try parseRequest(String(decoding: bytes, as: UTF8.self))
        let request = try UpgradeRequest(validating: head)
        XCTAssertEqual(request.path, "/ssh")
        XCTAssertEqual(request.upgrade, .purr)
        XCTAssertEqual(request.version, "0.1.2")
        XCTAssertNil(request.token)
    }

    func testOurClientRequestIsTheOriginalClientsBytes() throws {
        let original = try WireFixtures.originalClientRequest(bundle: .module, port: 58853)
        let ours = UpgradeRequest(path: "/ssh", host: "127.0.0.1:58853").encoded()
        XCTAssertEqual(Array(ours.utf8), original)
    }

    func testOur101IsTheOriginalServersBytes() throws {
        let original = try WireFixtures.originalServer101(bundle: .module)
        XCTAssertEqual(Array(UpgradeResponse.switching(.purr).utf8), original)
        let websocket = UpgradeResponse.switching(.websocket)
        XCTAssertEqual(
            websocket, String(decoding: original, as: UTF8.self).replacingOccurrences(of: "Upgrade: purr", with: "Upgrade: websocket"))
    }

    func testOriginal101PassesClientValidation() throws {
        var parser = HTTPHeadParser(kind: .response)
        var buffer = ByteBuffer(bytes: try WireFixtures.originalServer101(bundle: .module) + Array("SSH-2.0-x".utf8))
        guard case .complete(let head, let rest) = try parser.feed(&buffer) else { return XCTFail("incomplete") }
        XCTAssertNoThrow(try UpgradeResponse.validate(head, expected: .purr))
        XCTAssertEqual(String(buffer: rest), "SSH-2.0-x", "bytes after the 101 belong to the stream")
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

    func testParserKeepsBytesAfterTheHeadAndHandlesSplits() throws {
        let text = "GET /ssh HTTP/1.1\r\nHost: a\r\n\r\nPIPELINED"
        var parser = HTTPHeadParser(kind: .request)
        var result: HTTPHeadParser.Result = .needMore
        for byte in text.utf8 {
            var one = ByteBuffer(bytes: [byte])
            result = try parser.feed(&one)
            if case .complete = result { break }
        }
        guard case .complete(let head, _) = result else { return XCTFail("never completed") }
        XCTAssertEqual(head.second, "/ssh")
        var parser2 = HTTPHeadParser(kind: .request)
        var whole = ByteBuffer(string: text)
        guard case .complete(_, let rest) = try parser2.feed(&whole) else { return XCTFail("incomplete") }
        XCTAssertEqual(String(buffer: rest), "PIPELINED")
    }

    func testParserRefusesGarbageEarlyAndBigHeads() throws {
        var parser = HTTPHeadParser(kind: .request)
        var ssh = ByteBuffer(string: "SSH-2.0-OpenSSH_9.2\r\n")
        XCTAssertThrowsError(try parser.feed(&ssh)) { XCTAssertTrue("\($0)".contains("bad request line")) }
        var parser2 = HTTPHeadParser(kind: .request)
        var binary = ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00])
        XCTAssertThrowsError(try parser2.feed(&binary)) { XCTAssertTrue("\($0)".contains("control byte")) }
        var parser3 = HTTPHeadParser(kind: .request)
        var big = ByteBuffer(string: "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 17000))
        XCTAssertThrowsError(try parser3.feed(&big)) { XCTAssertEqual($0 as? HTTPHeadError, .tooLarge(limit: 16384)) }
        XCTAssertThrowsError(try parseRequest("GET / HTTP/1.1\r\nNo colon here\r\n\r\n")) {
            XCTAssertTrue("\($0)".contains("no colon"))
        }
        XCTAssertThrowsError(try parseRequest("GET / HTTP/2.0\r\n\r\n")) { XCTAssertTrue("\($0)".contains("HTTP version")) }
        XCTAssertThrowsError(try parseRequest("GET / HTTP/1.1\r\n folded\r\n\r\n"))
    }

    func testErrorResponseIsOneLine() {
        let response = UpgradeResponse.error(status: 404, reason: "Not Found", message: "no route\nfor /x")
        XCTAssertTrue(response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        XCTAssertTrue(response.hasSuffix("\r\n\r\nno route for /x\n"))
        XCTAssertTrue(response.contains("Content-Length: 16\r\n"))
    }

    func testResponseValidationDescribesFailures() throws {
        var parser = HTTPHeadParser(kind: .response)
        var buffer = ByteBuffer(string: "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n")
        guard case .complete(let head, _) = try parser.feed(&buffer) else { return XCTFail("incomplete") }
        XCTAssertThrowsError(try UpgradeResponse.validate(head, expected: .purr)) {
            XCTAssertEqual("\($0)", "server answered 404 Not Found")
        }
    }

    func testConstantTimeEquals() {
        XCTAssertTrue(ConstantTime.equals("secret", "secret"))
        XCTAssertFalse(ConstantTime.equals("secret", "secreT"))
        XCTAssertFalse(ConstantTime.equals("secret", "secret2"))
        XCTAssertFalse(ConstantTime.equals("", "x"))
        XCTAssertTrue(ConstantTime.equals("", ""))
    }
}
