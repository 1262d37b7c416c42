import NIOCore
import NIOEmbedded
import NIOHTTP1
import PurrCore
import XCTest

/// Issue 22, point 3: what may go into a request head we send, checked in one place.
final class HeadValidationTests: XCTestCase {
    func testToken68() {
        for good in ["abc", "A-b.c_d~e+f/g", "abc=", "abc==", "0", "eyJhbGciOiJIUzI1NiJ9.eyJ0IjoxfQ.sig-_"] {
            XCTAssertTrue(HeadValidation.isToken68(good), good)
        }
        for bad in ["", "=", "a b", "a\r\nX-Injected: yes", "a\n", "a\0", "a=b", "a,b", "a;b", "é", "a\t", "\"a\"", "a:b"] {
            XCTAssertFalse(HeadValidation.isToken68(bad), bad.debugDescription)
        }
    }

    func testFieldsAndTargets() {
        XCTAssertTrue(HeadValidation.isFieldName("X-Forwarded-For"))
        for bad in ["", "X A", "X:A", "X\r\nY", "é"] { XCTAssertFalse(HeadValidation.isFieldName(bad), bad.debugDescription) }
        XCTAssertTrue(HeadValidation.isFieldValue("a b\tc, d=\"é\""))
        for bad in ["a\rb", "a\nb", "a\0b", "a\u{7f}", "a\u{1}"] { XCTAssertFalse(HeadValidation.isFieldValue(bad), bad.debugDescription) }
        for good in ["/", "/ssh", "/a/b?x=1&token=a%20b", "/~u/(x)*!$'@:;,="] { XCTAssertTrue(HeadValidation.isRequestTarget(good), good) }
        for bad in ["", "ssh", "/a b", "/a\r\n", "/é", "/{x}", "/a|b", "/a\"b", "/a<b"] {
            XCTAssertFalse(HeadValidation.isRequestTarget(bad), bad.debugDescription)
        }
        XCTAssertTrue(HeadValidation.isHost("[::1]:8080"))
        XCTAssertFalse(HeadValidation.isHost("a\r\nb"))
        XCTAssertFalse(HeadValidation.isHost("a b"))
    }

    func testUpgradeRequestRefusesEveryBadValue() throws {
        var good = UpgradeRequest(path: "/ssh", host: "h:80", token: "s3cr/t==", extraHeaders: [("X-A", "1")])
        good.connectionID = "0a1b2c3d/ssh/1"
        XCTAssertNoThrow(try good.validatedHead())
        let cases: [(UpgradeRequest, String)] = [
            (UpgradeRequest(path: "/ssh", host: "h", token: "abc\r\nX-Injected: yes"), "token: not a valid token (token68)"),
            (UpgradeRequest(path: "/ssh", host: "h", token: "a b"), "token: not a valid token (token68)"),
            (UpgradeRequest(path: "/s sh", host: "h"), "the path has a space"),
            (UpgradeRequest(path: "/ssh\r\nX: y", host: "h"), "the path has a space"),
            (UpgradeRequest(path: "/ssh", host: "h\r\nX: y"), "the host"),
            (UpgradeRequest(path: "/ssh", host: "h", extraHeaders: [("X-A", "1\r\nX-Injected: yes")]), "header 'X-A'"),
            (UpgradeRequest(path: "/ssh", host: "h", extraHeaders: [("X A", "1")]), "header name 'X A'"),
        ]
        for (request, expected) in cases {
            XCTAssertThrowsError(try request.validate()) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error)")
                XCTAssertFalse("\(error)".contains("Injected"), "an error never repeats the value: \(error)")
            }
        }
    }
}
