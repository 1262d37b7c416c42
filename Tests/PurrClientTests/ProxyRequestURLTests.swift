import NIOCore
import PurrCore
import XCTest

@testable import PurrClient

/// A plain HTTP proxy request's absolute-form URL, read by `URLComponents` (`ProxyRequestURL`), and what
/// `ProxyFront` answers and logs about it: never the credentials or a query value, always one line.
final class ProxyRequestURLTests: XCTestCase {
    func testAcceptedURLsNameTheirTargetAndKeepPathAndQueryAsSent() throws {
        // (URL, target, origin form, Host field)
        let cases = [
            ("http://Example.org:8080/a/b?c=d", "Example.org:8080", "/a/b?c=d", "Example.org:8080"),
            ("http://a.example", "a.example:80", "/", "a.example"),
            ("HTTP://a.example?x=1", "a.example:80", "/?x=1", "a.example"),
            ("http://a.example/?", "a.example:80", "/?", "a.example"),
            ("http://[::1]:8080/x?y=1", "[::1]:8080", "/x?y=1", "[::1]:8080"),
            ("http://[::1]/", "[::1]:80", "/", "[::1]"),
            ("http://10.0.0.1:080/p?q=a+b&r=%20", "10.0.0.1:80", "/p?q=a+b&r=%20", "10.0.0.1:080"),
            ("http://h.example/%7Euser/a@b;c", "h.example:80", "/%7Euser/a@b;c", "h.example"),
            ("http://db.internal./", "db.internal.:80", "/", "db.internal."),
            // Punycode as sent (Foundation's own reading of the host decodes it).
            ("http://xn--bcher-kva.example:65535/", "xn--bcher-kva.example:65535", "/", "xn--bcher-kva.example:65535"),
            ("http://XN--BCHER-KVA.example/", "XN--BCHER-KVA.example:80", "/", "XN--BCHER-KVA.example"),
        ]
        for (uri, target, originForm, hostField) in cases {
            let url = try ProxyRequestURL(parsing: uri)
            XCTAssertEqual(url.target.description, target, uri)
            XCTAssertEqual(url.originForm, originForm, uri)
            XCTAssertEqual(url.hostField, hostField, uri)
        }
    }

    func testHostileURLsGetOneRefusalEach() {
        let cases: [(String, ProxyRequestURL.Refusal)] = [
            ("/local", .notAbsoluteHTTP),
            ("https://x.example/", .notAbsoluteHTTP),
            ("ftp://x.example/", .notAbsoluteHTTP),
            ("http:/x.example/", .notAbsoluteHTTP),
            ("http:x.example", .notAbsoluteHTTP),
            ("", .notAbsoluteHTTP),
            ("http://", .badHost),
            ("http://:80/", .badHost),
            ("http://a..b/", .badHost),
            ("http://a%2Eb/", .badHost),
            ("http://[fe80::1%25eth0]/", .badHost),
            ("http://[a.example]/", .badHost),
            ("http://[::1]x/", .unreadable),
            ("http://" + String(repeating: "a", count: 64 * 1024) + "/", .badHost),
            ("http://user@x.example/", .credentials),
            ("http://user:secret@x.example/", .credentials),
            ("http://:secret@x.example/", .credentials),
            ("http://x.example/#frag", .fragment),
            ("http://x.example:0/", .badPort),
            ("http://x.example:65536/", .badPort),
            ("http://x.example:99999999999999999999/", .badPort),
            ("http://ü.example/", .unreadable),
            ("http://a b/", .unreadable),
            ("http://x.example/a\r\nHost: evil", .unreadable),
            ("http://x.example/a\u{0}b", .unreadable),
            ("http://x.example\r\n/", .unreadable),
            ("http://x.example:-1/", .unreadable),
            ("http://x.example/%zz", .unreadable),
            ("http://[::1/", .unreadable),
        ]
        for (uri, expected) in cases {
            XCTAssertThrowsError(try ProxyRequestURL(parsing: uri), uri.printableLine) { error in
                XCTAssertEqual(error as? ProxyRequestURL.Refusal, expected, uri.printableLine)
            }
        }
        // A long path is the URL's business (the head's 16 KiB limit is `ProxyFront`'s): read, not refused.
        let long = "/" + String(repeating: "p", count: 64 * 1024)
        XCTAssertEqual(try ProxyRequestURL(parsing: "http://x.example" + long).originForm, long)
    }

    /// What `ProxyFront` answers and logs for a refused request: the URL redacted (`TargetRedaction`), one
    /// printable line, never the password or a query value.
    func testRefusalsShowTheURLRedactedOnOneLine() throws {
        let secrets = ["secret", "hunter2"]
        let requests: [(String, ProxyCredentials?)] = [
            ("GET http://user:secret@x.example/?token=hunter2 HTTP/1.1\r\n\r\n", nil),
            ("GET http://user:secret@ü.example/?token=hunter2 HTTP/1.1\r\n\r\n", nil),
            ("GET http://user:secret@x.example/a b?token=hunter2 HTTP/1.1\r\n\r\n", nil),
            ("GET http://x.example/?token=hunter2#secret HTTP/1.1\r\n\r\n", nil),
            ("GET http://x.example:99999/?token=hunter2 HTTP/1.1\r\n\r\n", nil),
            ("CONNECT user:secret@x.example:1 HTTP/1.1\r\n\r\n", nil),
            ("GET http://x.example/?token=hunter2 HTTP/1.1\r\n\r\n", try ProxyCredentials(user: "u", password: "p")),
            ("GET http://x.example/?token=hunter2 HTTP/1.1\r\nno colon\r\n\r\n", nil),
            ("POST http://x.example/?token=hunter2 HTTP/1.1\r\nContent-Length: x\r\n\r\n", nil),
        ]
        for (request, credentials) in requests {
            var front = ProxyFront(mode: .httpProxy, credentials: credentials)
            var buffer = ByteBuffer(string: request)
            guard case .refuse(let reply, let reason) = front.read(&buffer) else {
                XCTFail("not refused: \(request.printableLine)")
                continue
            }
            let answer = String(buffer: reply ?? ByteBuffer())
            let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
            for secret in secrets {
                XCTAssertFalse(reason.contains(secret), reason)
                XCTAssertFalse(answer.contains(secret), answer)
            }
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 4"), answer)
            XCTAssertFalse(reason.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, reason)
            XCTAssertEqual(body.filter { $0 == "\n" || $0 == "\r" || $0 == "\0" }, body.isEmpty ? "" : "\n", body)
        }
        var front = ProxyFront(mode: .httpProxy, credentials: nil)
        var buffer = ByteBuffer(string: "GET http://user:secret@x.example/?token=hunter2 HTTP/1.1\r\n\r\n")
        guard case .refuse(let reply, let reason) = front.read(&buffer) else { return XCTFail("not refused") }
        XCTAssertTrue(reason.contains("'http://***@x.example/?token=REDACTED'"), reason)
        XCTAssertTrue(
            String(buffer: reply ?? ByteBuffer()).hasSuffix("(use Proxy-Authorization): 'http://***@x.example/?token=REDACTED'\n"))
    }

    /// The request through `ProxyFront`: the target's first bytes are the origin form and the URL's Host.
    func testProxyFrontRewritesTowardTheTarget() throws {
        let cases = [
            (
                "GET http://[::1]:8080/x?y=1 HTTP/1.1\r\nHost: b.example\r\n\r\n", "[::1]:8080",
                "GET /x?y=1 HTTP/1.1\r\nHost: [::1]:8080\r\n"
            ),
            ("GET HTTP://A.example?q HTTP/1.0\r\n\r\n", "A.example:80", "GET /?q HTTP/1.0\r\nHost: A.example\r\n"),
        ]
        for (request, target, head) in cases {
            var front = ProxyFront(mode: .httpProxy, credentials: nil)
            var buffer = ByteBuffer(string: request)
            guard case .connect(let asked) = front.read(&buffer) else {
                XCTFail("not accepted: \(request.printableLine)")
                continue
            }
            XCTAssertEqual(asked.target.description, target)
            XCTAssertEqual(asked.firstBytes.map { String(buffer: $0) }, head + "Connection: close\r\n\r\n")
        }
        // A 64 KiB URL never gets as far as the URL reader: the head is over its limit.
        var front = ProxyFront(mode: .httpProxy, credentials: nil)
        var buffer = ByteBuffer(string: "GET http://x.example/" + String(repeating: "a", count: 64 * 1024) + " HTTP/1.1\r\n\r\n")
        guard case .refuse(let reply, _) = front.read(&buffer) else { return XCTFail("not refused") }
        XCTAssertTrue(String(buffer: reply ?? ByteBuffer()).hasPrefix("HTTP/1.1 431 "))
    }
}
