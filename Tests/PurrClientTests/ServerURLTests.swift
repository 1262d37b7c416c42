import Foundation
import PurrCore
import XCTest

@testable import PurrClient

/// Server URLs, read by `URLComponents` (no sockets): what is accepted and how, what is refused and with
/// which line.
final class ServerURLTests: XCTestCase {
    func testAcceptedURLs() throws {
        // text, scheme, host, port, path as sent, Host header
        let cases: [(String, ServerURL.Scheme, String, Int, String, String)] = [
            ("http://purr.example.com:8080/ssh?x=1", .http, "purr.example.com", 8080, "/ssh?x=1", "purr.example.com:8080"),
            ("http://example.com", .http, "example.com", 80, "/", "example.com"),
            ("https://example.com", .https, "example.com", 443, "/", "example.com"),
            ("ws://example.com/ws", .ws, "example.com", 80, "/ws", "example.com"),
            ("wss://example.com/ws", .wss, "example.com", 443, "/ws", "example.com"),
            ("https://example.com:443/a", .https, "example.com", 443, "/a", "example.com"),
            ("http://example.com:443/a", .http, "example.com", 443, "/a", "example.com:443"),
            ("HTTP://Example.com/A", .http, "Example.com", 80, "/A", "Example.com"),
            ("http://127.0.0.1:8080/db", .http, "127.0.0.1", 8080, "/db", "127.0.0.1:8080"),
            ("http://[::1]:9000/db", .http, "::1", 9000, "/db", "[::1]:9000"),
            ("https://[::1]/db", .https, "::1", 443, "/db", "[::1]"),
            ("http://[fe80::1%25eth0]:80/", .http, "fe80::1%25eth0", 80, "/", "[fe80::1%25eth0]"),
            ("  http://h:1/a\t", .http, "h", 1, "/a", "h:1"),
            ("http://h:0080/a", .http, "h", 80, "/a", "h"),
            // The path and query as written, byte for byte: escapes, dot segments, `+`, an empty query.
            ("http://h/a%2Fb/%7e?q=%41+b&t", .http, "h", 80, "/a%2Fb/%7e?q=%41+b&t", "h"),
            ("http://h/a/./b/../c", .http, "h", 80, "/a/./b/../c", "h"),
            ("http://h?token=abc", .http, "h", 80, "/?token=abc", "h"),
            ("http://h/?", .http, "h", 80, "/?", "h"),
            ("http://h/users/@me", .http, "h", 80, "/users/@me", "h"),
            // A punycode name as written, in either case (Foundation's `percentEncodedHost` decodes it to
            // `b%C3%BCcher`, which no resolver takes); one that is no valid punycode is still a name to look up.
            ("http://xn--bcher-kva.example/ssh", .http, "xn--bcher-kva.example", 80, "/ssh", "xn--bcher-kva.example"),
            ("https://XN--BCHER-KVA.Example:8443/s", .https, "XN--BCHER-KVA.Example", 8443, "/s", "XN--BCHER-KVA.Example:8443"),
            ("ws://a.xn--bcher-kva.example:80/ws?x", .ws, "a.xn--bcher-kva.example", 80, "/ws?x", "a.xn--bcher-kva.example"),
            ("http://xn--a.example/", .http, "xn--a.example", 80, "/", "xn--a.example"),
            ("wss://[2001:DB8::1]:8443/ws", .wss, "2001:DB8::1", 8443, "/ws", "[2001:DB8::1]:8443"),
        ]
        for (text, scheme, host, port, path, hostHeader) in cases {
            let url = try ServerURL(parsing: text)
            XCTAssertEqual(url.scheme, scheme, text)
            XCTAssertEqual(url.host, host, text)
            XCTAssertEqual(url.port, port, text)
            XCTAssertEqual(url.path, path, text)
            XCTAssertEqual(url.hostHeader, hostHeader, text)
            XCTAssertEqual(try ServerURL(parsing: url.description), url, "\(text): its description reads back the same")
        }
    }

    func testRefusedURLsSayWhy() {
        let cases: [(String, String)] = [
            ("example.com/ssh", "'example.com/ssh': expected a URL like http://host:8080/ssh"),
            ("nourl", "'nourl': expected a URL like http://host:8080/ssh"),
            ("localhost:8080", "'localhost:8080': expected a URL like http://host:8080/ssh"),
            ("http:/x", "'http:/x': expected a URL like http://host:8080/ssh"),
            ("", "'': expected a URL like http://host:8080/ssh"),
            ("ftp://x/", "'ftp://x/': unsupported scheme 'ftp' (expected http, https, ws or wss)"),
            ("http://u:p@x/", "'http://***@x/': credentials in a server URL are not supported; use a token"),
            ("http://u@x/", "'http://***@x/': credentials in a server URL are not supported; use a token"),
            ("http://x:99999/", "'http://x:99999/': 'x:99999': the port must be a number 1-65535"),
            ("http://x:0/", "'http://x:0/': 'x:0': the port must be a number 1-65535"),
            ("http://x:99999999999999999999/", "'http://x:99999999999999999999/': the port must be a number 1-65535"),
            (
                "http://[::1]:" + String(repeating: "9", count: 300),
                "'http://[::1]:" + String(repeating: "9", count: 67) + "…': the port must be a number 1-65535"
            ),
            ("http://h:x/e", "'http://h:x/e': not a URL: check the port (a number 1-65535) and the brackets around an IPv6 address"),
            ("http://[::1/", "'http://[::1/': not a URL: check the port (a number 1-65535) and the brackets around an IPv6 address"),
            ("http:///p", "'http:///p': ':80': the host is empty"),
            ("http://x/a b", "'http://x/a b': the path has spaces, control characters or characters that must be percent-encoded"),
            ("http://x/a{b}", "'http://x/a{b}': the path has spaces, control characters or characters that must be percent-encoded"),
            ("http://x/a%zz", "'http://x/a%zz': the path has spaces, control characters or characters that must be percent-encoded"),
            ("http://x/a[b]", "'http://x/a[b]': the path has spaces, control characters or characters that must be percent-encoded"),
            ("http://x/a#frag", "'http://x/a': a server URL has no #fragment (never sent; write a '#' in the path as %23)"),
            ("http://bücher.example/", "'http://bücher.example/': the host has characters a host name cannot have"),
            ("http://xn--bcher-kva.example/a b", "'http://xn--bcher-kva.example/a b': \(ServerURL.badPath)"),
            (
                "http://a_b!.example/",
                "'http://a_b!.example/': 'a_b!.example:80': the host 'a_b!.example' has characters a host name cannot have"
            ),
            // Query values are hidden in the line, as everywhere a URL is shown.
            ("ftp://x/?token=s3cret", "'ftp://x/?token=REDACTED': unsupported scheme 'ftp' (expected http, https, ws or wss)"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ServerURL(parsing: text), text) { XCTAssertEqual(($0 as? ConfigError)?.message, expected, text) }
        }
    }

    /// NUL, CR or LF anywhere, a huge URL, a unicode host, `@` in the path: one clear line, never a crash,
    /// never the password.
    func testHostileInputGetsOneLine() {
        let base = "http://user:SECRETPASS@h.example:8080/path?token=TOKENVALUE"
        var hostile = [String]()
        for control in ["\u{0}", "\r", "\n", "\r\n"] {
            for offset in [0, 4, 7, 12, 22, 30, 40, base.count] {
                var text = base
                text.insert(contentsOf: control, at: text.index(text.startIndex, offsetBy: offset))
                hostile.append(text)
            }
        }
        hostile += [
            "http://h/" + String(repeating: "a", count: 64 * 1024),
            "http://" + String(repeating: "h", count: 64 * 1024) + "/",
            "http://h/?token=" + String(repeating: "%", count: 64 * 1024),
            "http://ü.example/", "http://例え.jp/", "http://h\u{202E}x/", "http://h/p@q@user:SECRETPASS@x",
            "http://user:SECRETPASS@h/a#frag", "http://user:SECRETPASS@[::1/", "http://user:SECRET/PASS@h/",
        ]
        for text in hostile {
            do {
                let url = try ServerURL(parsing: text)
                XCTAssertFalse(url.path.contains("\r") || url.path.contains("\n") || url.path.contains("\u{0}"), text.debugDescription)
                XCTAssertTrue(HeadValidation.isRequestTarget(url.path), text.debugDescription)
            } catch {
                let line = error.message
                XCTAssertFalse(line.contains("SECRETPASS") || line.contains("SECRET/PASS"), line)
                XCTAssertFalse(line.contains("TOKENVALUE"), line)
                XCTAssertFalse(line.contains("\n") || line.contains("\r") || line.contains("\u{0}"), line.debugDescription)
                XCTAssertLessThan(line.count, 300, "one short line")
            }
        }
    }

    func testTemplates() throws {
        let template = try ServerURL(parsingTemplate: "https://purr.example/t/{host}/{port}?x=1")
        XCTAssertEqual(template.path, "/t/{host}/{port}?x=1")
        XCTAssertEqual(template.host, "purr.example")
        XCTAssertEqual(template.port, 443)
        XCTAssertEqual(try ServerURL(parsingTemplate: "http://[::1]:8080/{host}%2F{port}").path, "/{host}%2F{port}")
        XCTAssertEqual(try ServerURL(parsingTemplate: "http://h/t?h={host}&p={port}").path, "/t?h={host}&p={port}")
        let punycode = try ServerURL(parsingTemplate: "https://XN--BCHER-KVA.example/t/{host}/{port}")
        XCTAssertEqual(punycode.host, "XN--BCHER-KVA.example")
        XCTAssertEqual(punycode.path, "/t/{host}/{port}")
        let cases: [(String, String)] = [
            ("https://purr.example/t/{host}", "a dynamic tunnel's URL needs {host} and {port} in its path"),
            ("https://{host}:{port}/t", "not a URL"),
            ("https://x.example/t/{host}/{port}#{host}", "no #fragment"),
            ("https://x.example/t/{host}/{port}/{other}", "the path has spaces"),
            ("ftp://x.example/t/{host}/{port}", "unsupported scheme 'ftp'"),
            ("https://u:SECRETPASS@x.example/t/{host}/{port}", "'https://***@x.example/t/"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ServerURL(parsingTemplate: text), text) {
                XCTAssertTrue("\($0)".contains(expected), "\($0) should contain \(expected)")
                XCTAssertFalse("\($0)".contains("SECRETPASS"), "\($0)")
            }
        }
    }

    /// The admin stream's URL: built from the server URL's parts, the path without its query.
    func testResourceURL() throws {
        let query = [URLQueryItem(name: "interval_ms", value: "500")]
        let cases: [(String, String)] = [
            ("http://h:8080/", "http://h:8080/stats/stream?interval_ms=500"),
            ("http://h", "http://h:80/stats/stream?interval_ms=500"),
            ("https://h/admin/?token=x", "https://h:443/admin/stats/stream?interval_ms=500"),
            ("http://[::1]:9000/a%2Fb", "http://[::1]:9000/a%2Fb/stats/stream?interval_ms=500"),
            ("http://xn--bcher-kva.example:8080/", "http://xn--bcher-kva.example:8080/stats/stream?interval_ms=500"),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try ServerURL(parsing: text).resourceURL(appending: "/stats/stream", queryItems: query), expected, text)
        }
        XCTAssertEqual(try ServerURL(parsing: "http://h/a").resourceURL(appending: "/x", queryItems: []), "http://h:80/a/x")
    }

    func testRedactedHidesQueryValues() throws {
        XCTAssertEqual(
            try ServerURL(parsing: "https://h:8443/ssh?token=s3cret&x=1").redacted, "https://h:8443/ssh?token=REDACTED&x=REDACTED")
        XCTAssertEqual(try ServerURL(parsing: "http://[::1]/ssh").redacted, "http://[::1]/ssh")
    }
}
