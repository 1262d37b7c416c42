import Foundation
import PurrClient
import PurrCore
import XCTest

/// Proxy URLs, read by `URLComponents` (no sockets): credentials decoded, the default port, IPv6, and
/// refusals that never print a password.
final class ProxySettingsTests: XCTestCase {
    func testAcceptedProxies() throws {
        // text, host, port, user, password
        let cases: [(String, String, Int, String?, String?)] = [
            ("http://proxy.corp:3128", "proxy.corp", 3128, nil, nil),
            ("http://proxy.corp", "proxy.corp", 3128, nil, nil),
            ("http://proxy.corp:8080/", "proxy.corp", 8080, nil, nil),
            ("HTTP://proxy.corp:1", "proxy.corp", 1, nil, nil),
            ("proxy.corp", "proxy.corp", 3128, nil, nil),
            ("proxy.corp:8080", "proxy.corp", 8080, nil, nil),
            ("127.0.0.1:57495", "127.0.0.1", 57495, nil, nil),
            ("10.0.0.1", "10.0.0.1", 3128, nil, nil),
            (" http://p:1 ", "p", 1, nil, nil),
            ("http://[::1]:3128", "::1", 3128, nil, nil),
            ("http://[::1]", "::1", 3128, nil, nil),
            ("[::1]:8080", "::1", 8080, nil, nil),
            ("[::1]", "::1", 3128, nil, nil),
            ("http://bob:s%3Acret@proxy.corp:3128", "proxy.corp", 3128, "bob", "s:cret"),
            ("http://b%40b:p%25w%20d@p:1", "p", 1, "b@b", "p%w d"),
            ("http://bob@p:1", "p", 1, "bob", nil),
            ("http://bob:@p:1", "p", 1, "bob", ""),
            // Characters a URL may not hold are taken as written (curl does the same).
            ("http://bob:p@ss@p:1", "p", 1, "bob", "p@ss"),
            ("http://bob:p w@p:1", "p", 1, "bob", "p w"),
            ("http://bob:%zz@p:1", "p", 1, "bob", "%zz"),
            ("bob:pw@proxy.corp:3128", "proxy.corp", 3128, "bob", "pw"),
            // A punycode name as written, in either case (not Foundation's decoded `b%C3%BCcher`).
            ("http://xn--bcher-kva.example:3128", "xn--bcher-kva.example", 3128, nil, nil),
            ("XN--BCHER-KVA.Example", "XN--BCHER-KVA.Example", 3128, nil, nil),
            ("http://bob:p@ss@xn--bcher-kva.example:1/", "xn--bcher-kva.example", 1, "bob", "p@ss"),
            ("http://xn--a.example:1", "xn--a.example", 1, nil, nil),
            ("http://u:p w@[2001:DB8::1]:8080", "2001:DB8::1", 8080, "u", "p w"),
        ]
        for (text, host, port, user, password) in cases {
            let proxy = try ProxySettings(parsing: text)
            XCTAssertEqual(proxy.endpoint, HostPort(host: host, port: port), text)
            XCTAssertEqual(proxy.username, user, text)
            XCTAssertEqual(proxy.password, password, text)
            XCTAssertEqual(try ProxySettings(parsing: proxy.urlString), proxy, "\(text): its URL reads back the same")
            if let password, !password.isEmpty { XCTAssertFalse(proxy.description.contains(password), proxy.description) }
        }
    }

    func testRefusedProxiesSayWhyWithoutThePassword() {
        let cases: [(String, String)] = [
            ("socks5://x:1080", "proxy 'socks5://x:1080': unsupported scheme 'socks5' (expected http)"),
            ("https://u:SECRETPASS@x:1", "proxy 'https://***@x:1': unsupported scheme 'https' (expected http)"),
            ("http://x:99999", "proxy 'http://x:99999': 'x:99999': the port must be a number 1-65535"),
            ("x:99999999999999999999", "proxy 'x:99999999999999999999': the port must be a number 1-65535"),
            ("http://u:SECRETPASS@x:0", "proxy 'http://***@x:0': 'x:0': the port must be a number 1-65535"),
            ("http://u:SECRETPASS@x:y", "proxy 'http://***@x:y': expected http://[user:password@]host[:port]"),
            ("u:SECRETPASS@x:y", "proxy '***@x:y': expected http://[user:password@]host[:port]"),
            ("http://u:SECRET/PASS@x:1", "proxy 'http://***@x:1': expected http://[user:password@]host[:port]"),
            ("http://bücher.example:1", "proxy 'http://bücher.example:1': the host has characters a host name cannot have"),
            ("bücher.example", "proxy 'bücher.example': the host has characters a host name cannot have"),
            // The lenient reading writes a Unicode host as punycode: the name in the password is not the host.
            (
                "http://xn--bcher-kva.example@bücher.example:1",
                "proxy 'http://***@bücher.example:1': the host has characters a host name cannot have"
            ),
            ("http://:1", "proxy 'http://:1': ':1': the host is empty"),
            ("http://p:1/x", "proxy 'http://p:1/x': a proxy is http://[user:password@]host[:port], without a path"),
            ("http://p:1?x=SECRET", "proxy 'http://p:1?x=REDACTED': a proxy is http://[user:password@]host[:port], without a path"),
            ("http://u:/SECRETPASS@h:1/a", "proxy 'http://***@h:1/a': a proxy is http://[user:password@]host[:port], without a path"),
            ("http://u:#SECRETPASS@h:1", "proxy 'http://***@h:1': a proxy is http://[user:password@]host[:port], without a path"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try ProxySettings(parsing: text), text) { XCTAssertEqual(($0 as? ConfigError)?.message, expected, text) }
        }
    }

    func testHostileProxiesGetOneLine() {
        var hostile = ["http://u:SECRETPASS@" + String(repeating: "p", count: 64 * 1024) + ":1", "http://u:SECRETPASS@p\u{0}x:1"]
        for control in ["\u{0}", "\r", "\n"] {
            hostile += ["http://u:SECRET\(control)PASS@p:1", "http://u:SECRETPASS@p:1\(control)", "\(control)http://u:SECRETPASS@p:1"]
        }
        for text in hostile {
            do {
                let proxy = try ProxySettings(parsing: text)
                XCTAssertTrue(HeadValidation.isHost(proxy.endpoint.host), text.debugDescription)
                // Credentials may hold anything: they travel base64-encoded.
                XCTAssertTrue(proxy.connectRequest(to: HostPort(host: "srv", port: 1)).hasPrefix("CONNECT srv:1 HTTP/1.1\r\n"))
            } catch {
                XCTAssertFalse(error.message.contains("SECRET"), error.message)
                XCTAssertFalse(error.message.contains("\n") || error.message.contains("\u{0}"), error.message.debugDescription)
                XCTAssertLessThan(error.message.count, 300)
            }
        }
    }
}
