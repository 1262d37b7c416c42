import Foundation
import PurrCore
import XCTest

@testable import PurrClient

/// Browser origins (no sockets): read by `URLComponents`, but for the `:*` port, which is no URL.
final class OriginPatternTests: XCTestCase {
    func testAcceptedPatterns() throws {
        // text, scheme, host, port, description
        let cases: [(String, String, String, OriginPattern.Port, String)] = [
            ("https://console.example.com", "https", "console.example.com", .exact(443), "https://console.example.com"),
            ("https://console.example.com/", "https", "console.example.com", .exact(443), "https://console.example.com"),
            ("http://127.0.0.1:8000", "http", "127.0.0.1", .exact(8000), "http://127.0.0.1:8000"),
            ("http://127.0.0.1:*", "http", "127.0.0.1", .any, "http://127.0.0.1:*"),
            ("http://127.0.0.1:*/", "http", "127.0.0.1", .any, "http://127.0.0.1:*"),
            ("HTTP://LocalHost:80", "http", "localhost", .exact(80), "http://localhost"),
            ("http://[::1]:8000", "http", "[::1]", .exact(8000), "http://[::1]:8000"),
            ("http://[::1]", "http", "[::1]", .exact(80), "http://[::1]"),
            ("http://[::1]:*", "http", "[::1]", .any, "http://[::1]:*"),
            ("chrome-extension://abcdef", "chrome-extension", "abcdef", .exact(nil), "chrome-extension://abcdef"),
            ("wss://w.example:8443", "wss", "w.example", .exact(8443), "wss://w.example:8443"),
            // A punycode name as the browser sends it (lowercased), not Foundation's decoded `b%c3%bccher`.
            ("http://xn--bcher-kva.example:*", "http", "xn--bcher-kva.example", .any, "http://xn--bcher-kva.example:*"),
            ("HTTPS://XN--BCHER-KVA.Example", "https", "xn--bcher-kva.example", .exact(443), "https://xn--bcher-kva.example"),
            ("http://xn--a.example:8000", "http", "xn--a.example", .exact(8000), "http://xn--a.example:8000"),
            ("https://[2001:DB8::1]:8443", "https", "[2001:db8::1]", .exact(8443), "https://[2001:db8::1]:8443"),
        ]
        for (text, scheme, host, port, description) in cases {
            let pattern = try OriginPattern(parsing: text)
            XCTAssertEqual(pattern.scheme, scheme, text)
            XCTAssertEqual(pattern.host, host, text)
            XCTAssertEqual(pattern.port, port, text)
            XCTAssertEqual(pattern.description, description, text)
            XCTAssertEqual(try OriginPattern(parsing: pattern.description), pattern, text)
        }
    }

    func testRefusedPatternsSayWhy() {
        let expected = "expected an origin like https://console.example.com or http://127.0.0.1:*"
        let noPath = "an origin is scheme://host[:port], without a path, query or credentials"
        let cases: [(String, String)] = [
            ("console.example.com", "'console.example.com': \(expected)"),
            ("ftp:/x", "'ftp:/x': \(expected)"),
            ("null", "'null': \(expected)"),
            ("http://b:x", "'http://b:x': 'x' is not a port (1-65535 or *)"),
            ("http://b:0", "'http://b:0': '0' is not a port (1-65535 or *)"),
            ("http://b:99999", "'http://b:99999': '99999' is not a port (1-65535 or *)"),
            ("https://x/path", "'https://x/path': \(noPath)"),
            ("https://x?q=SECRET", "'https://x?q=REDACTED': \(noPath)"),
            ("https://x#f", "'https://x': \(noPath)"),
            ("https://u:SECRET@x", "'https://***@x': \(noPath)"),
            ("http://", "'http://': \(expected)"),
            ("http://:80", "'http://:80': the host is empty"),
            ("http://a b", "'http://a b': an origin is scheme://host[:port], in characters a URL may hold"),
            ("http://x\r\n:*", "'http://x??:*': an origin is scheme://host[:port], in characters a URL may hold"),
        ]
        for (text, line) in cases {
            XCTAssertThrowsError(try OriginPattern(parsing: text), text) { XCTAssertEqual(($0 as? ConfigError)?.message, line, text) }
        }
    }

    /// NUL, CR or LF anywhere, a huge origin, a unicode host: one short line, never a crash.
    func testHostileOriginsGetOneLine() {
        let base = "http://u:SECRET@127.0.0.1:*"
        var hostile = ["http://" + String(repeating: "h", count: 64 * 1024), "http://h:" + String(repeating: "9", count: 64 * 1024)]
        hostile += ["http://ü.example", "http://例え.jp:*", "http://h:*:*", "http://h:**", "http://[::1", "http://h::*", ":*", "://h"]
        for control in ["\u{0}", "\r", "\n"] {
            for offset in [0, 4, 7, 14, base.count - 1, base.count] {
                var text = base
                text.insert(contentsOf: control, at: text.index(text.startIndex, offsetBy: offset))
                hostile.append(text)
            }
        }
        for text in hostile {
            do {
                let pattern = try OriginPattern(parsing: text)
                XCTAssertTrue(text == hostile[0], "only the long name is an origin: \(text.prefix(100).debugDescription)")
                XCTAssertFalse(pattern.description.contains("\n") || pattern.description.contains("\u{0}"), text.debugDescription)
            } catch {
                XCTAssertFalse(error.message.contains("SECRET"), error.message)
                XCTAssertFalse(error.message.contains("\n") || error.message.contains("\u{0}"), error.message.debugDescription)
                XCTAssertLessThan(error.message.count, 300)
            }
            _ = NativeHostCaller.isExtensionScheme(text)
        }
    }

    func testMatching() throws {
        let any = try OriginPattern(parsing: "http://127.0.0.1:*")
        XCTAssertTrue(any.matches("http://127.0.0.1:8000"))
        XCTAssertTrue(any.matches("http://127.0.0.1"))
        XCTAssertFalse(any.matches("https://127.0.0.1:8000"), "another scheme")
        XCTAssertFalse(any.matches("http://127.0.0.2:8000"))
        XCTAssertFalse(any.matches("http://127.0.0.1:*"), "a browser's origin has a port, not a pattern")
        XCTAssertFalse(any.matches("null"))
        let exact = try OriginPattern(parsing: "https://console.example.com")
        XCTAssertTrue(exact.matches("https://console.example.com:443"))
        XCTAssertTrue(exact.matches("https://Console.Example.com/"))
        XCTAssertFalse(exact.matches("https://console.example.com:8443"))
        XCTAssertFalse(exact.matches("https://console.example.com.evil.example"))
        XCTAssertFalse(exact.matches("https://console.example.com@evil.example"))
        let punycode = try OriginPattern(parsing: "http://xn--bcher-kva.example:*")
        XCTAssertTrue(punycode.matches("http://xn--bcher-kva.example:8000"))
        XCTAssertTrue(punycode.matches("http://XN--BCHER-KVA.example"))
        XCTAssertFalse(punycode.matches("http://bücher.example:8000"), "a browser sends punycode; Unicode is no origin")
        XCTAssertFalse(punycode.matches("http://b%c3%bccher.example:8000"))
        let v6 = try OriginPattern(parsing: "http://[::1]:*")
        XCTAssertTrue(v6.matches("http://[::1]:8000"))
        XCTAssertFalse(v6.matches("http://[::2]:8000"))
    }

    func testExtensionOrigins() {
        // A host that is no valid punycode is still an extension's origin, and refused as one if not ours.
        for origin in [
            "chrome-extension://abc", "chrome-extension://abc/", "moz-extension://uuid", "Edge-Extension://x", "chrome-extension://xn--a",
        ] {
            XCTAssertTrue(NativeHostCaller.isExtensionScheme(origin), origin)
        }
        for origin in [
            "https://chrome-extension.example", "chrome-extension:abc", "null", "", "http://x-extension.example/chrome-extension://a",
        ] {
            XCTAssertFalse(NativeHostCaller.isExtensionScheme(origin), origin)
        }
        let firefox = NativeHostCaller(argument: "firefox:purr@example")
        XCTAssertTrue(firefox.isOwnExtension("moz-extension://4b1c7a2e-uuid"))
        XCTAssertTrue(firefox.isOwnExtension("moz-extension://4b1c7a2e-uuid/"))
        XCTAssertTrue(firefox.isOwnExtension("moz-extension://xn--a"))
        for origin in [
            "moz-extension://", "moz-extension://a/b", "moz-extension://u@a", "moz-extension://a:1", "chrome-extension://a",
            "moz-extension://a?x",
        ] {
            XCTAssertFalse(firefox.isOwnExtension(origin), origin)
        }
        let chrome = NativeHostCaller(argument: "chrome-extension://abc/")
        XCTAssertEqual(chrome, .chrome(origin: "chrome-extension://abc"))
        XCTAssertTrue(chrome.isOwnExtension("chrome-extension://abc/"))
        XCTAssertFalse(chrome.isOwnExtension("chrome-extension://abd"))
    }
}
