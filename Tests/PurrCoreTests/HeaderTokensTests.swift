import NIOHTTP1
import XCTest

@testable import PurrCore

/// Comma-separated header values: the `Upgrade` and `Connection` checks of every request.
final class HeaderTokensTests: XCTestCase {
    func testTokensAreTrimmedAndComparedWithoutCase() {
        let cases: [(String, String, Bool)] = [
            ("Upgrade", "upgrade", true),
            ("keep-alive, Upgrade", "upgrade", true),
            ("keep-alive,\tUPGRADE  ", "upgrade", true),
            (" , ,upgrade,", "upgrade", true),
            ("upgrades", "upgrade", false),
            ("up grade", "upgrade", false),
            ("", "upgrade", false),
            (",,,", "upgrade", false),
            ("keep-alive", "upgrade", false),
            // Tokens are ASCII: a Kelvin sign is not a k.
            ("websoc\u{212A}et", "websocket", false),
        ]
        for (value, token, expected) in cases {
            XCTAssertEqual(HeaderTokens.contains(value, token: token), expected, value.debugDescription)
        }
    }

    func testUpgradeProtocolIsTheFirstKnownToken() {
        XCTAssertEqual(UpgradeProtocol(headerValue: "purr"), .purr)
        XCTAssertEqual(UpgradeProtocol(headerValue: "WebSocket"), .websocket)
        XCTAssertEqual(UpgradeProtocol(headerValue: "h2c, websocket, purr"), .websocket)
        XCTAssertEqual(UpgradeProtocol(headerValue: " Purr "), .purr)
        XCTAssertNil(UpgradeProtocol(headerValue: "h2c"))
        XCTAssertNil(UpgradeProtocol(headerValue: ""))
        XCTAssertNil(UpgradeProtocol(headerValue: "purrr"))
    }

    func testListContainsReadsEveryFieldOfTheName() {
        let headers = HTTPHeaders([("Host", "x"), ("connection", "keep-alive"), ("CONNECTION", "Upgrade")])
        XCTAssertTrue(headers.listContains("Connection", token: "upgrade"))
        XCTAssertFalse(headers.listContains("Host", token: "upgrade"))
        XCTAssertFalse(headers.listContains("Upgrade", token: "upgrade"))
    }
}
