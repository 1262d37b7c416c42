import NIOCore
import NIOEmbedded
import PurrCore
import XCTest

@testable import PurrClient

/// The client's CONNECT in an EmbeddedChannel, byte by byte: the answer's head and nothing more is the
/// proxy's, whatever its version (tinyproxy answers HTTP/1.0, squid HTTP/1.1) or headers; what comes
/// behind it reaches the upgrade untouched; a refusal is one line with its status.
final class ProxyTunnelTests: XCTestCase {
    static let banner = "SSH-2.0-OpenSSH_9.2\r\n"
    let proxy = try! ProxySettings(parsing: "http://alice:s3cret@proxy.corp:3128")
    let target = HostPort(host: "srv", port: 8080)
    let request = UpgradeRequest(path: "/t", host: "srv:8080")

    /// A server connection's handshake through `proxy`, connected (the handler tests' harness).
    func dial() throws -> ClientHandshakeHandlerTests.Connection {
        try .init(request: request, proxy: proxy, authenticator: BasicProxyAuthenticator(proxy: proxy), timeout: .seconds(30))
    }

    var connectText: String {
        "CONNECT srv:8080 HTTP/1.1\r\nHost: srv:8080\r\nProxy-Authorization: \(proxy.authorization!)\r\n\r\n"
    }

    /// Yes in the ways real proxies say it; the 101 and the server's first bytes after it, apart, together
    /// with the answer in one read, and one byte at a time.
    func testEveryWayOfSayingYesHandsTheTunnelOnUntouched() throws {
        let answers = [
            "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n",
            "HTTP/1.1 200 Connection established\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\n",
            "HTTP/1.0 200 Connection established\n\n",
            "HTTP/1.1 204\r\n\r\n",
        ]
        let switching = UpgradeResponse.switching(.purr) + Self.banner
        for answer in answers {
            for (how, chunk, together) in [("apart", 0, false), ("in one read", 0, true), ("byte by byte", 1, true)] {
                let label = "\(answer.debugDescription) \(how)"
                let dial = try self.dial()
                XCTAssertEqual(try dial.sent(), connectText, label)
                try dial.receive(together ? answer + switching : answer, chunk: chunk)
                XCTAssertEqual(try dial.sent(), request.encoded(), "the upgrade request follows the proxy's yes: \(label)")
                if !together { try dial.receive(switching) }
                XCTAssertTrue(dial.upgraded, label)
                XCTAssertEqual(try dial.held(), Self.banner, label)
                XCTAssertNil(try? dial.channel.pipeline.syncOperations.handler(type: ClientHandshakeHandler.self), label)
                _ = try? dial.channel.finish()
            }
        }
    }

    func testARefusalIsOneLineWithItsStatus() throws {
        let refusals = [
            (
                "HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n<html>no</html>",
                "407 Proxy Authentication Required"
            ),
            ("HTTP/1.1 403 Forbidden\r\nContent-Length: 3042\r\n\r\n<!DOCTYPE html", "403 Forbidden"),
            ("HTTP/1.1 503\r\n\r\n", "503"),
            ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "101 Switching Protocols"),
            ("HTTP/1.1 502 Bad\u{1B}[31m Gateway\r\n\r\n", "502 Bad?[31m Gateway"),
        ]
        for (answer, status) in refusals {
            let dial = try self.dial()
            _ = try dial.sent()
            try dial.receive(answer)
            XCTAssertEqual(dial.failure?.description, "proxy proxy.corp:3128 refused CONNECT: \(status)")
            XCTAssertFalse(dial.channel.isActive, "closed after a refusal")
            XCTAssertEqual(try dial.sent(), "", "nothing is sent after a refusal")
            _ = try? dial.channel.finish()
        }
    }

    func testWhatIsNotAnAnswerIsReportedAndNothingHangs() throws {
        let cases = [
            ("SSH-2.0-OpenSSH_9.2\r\n\r\n", "proxy proxy.corp:3128 sent a bad answer to CONNECT: 'SSH-2.0-OpenSSH_9.2'"),
            ("HTTP/2 200\r\n\r\n", "proxy proxy.corp:3128 sent a bad answer to CONNECT: 'HTTP/2 200'"),
            ("HTTP/1.1 20x OK\r\n\r\n", "proxy proxy.corp:3128 sent a bad answer to CONNECT: 'HTTP/1.1 20x OK'"),
            (
                "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: 0123456789abcdef\r\n", count: 1000),
                "proxy proxy.corp:3128 sent an answer head larger than \(PurrWire.maxHeadSize) bytes"
            ),
        ]
        for (answer, words) in cases {
            let dial = try self.dial()
            _ = try dial.sent()
            try dial.receive(answer)
            XCTAssertEqual(dial.failure?.description, words)
            XCTAssertFalse(dial.channel.isActive)
            _ = try? dial.channel.finish()
        }
        let silent = try self.dial()
        try silent.receive("HTTP/1.1 200 OK\r\n")
        silent.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertEqual(silent.failure?.description, "proxy proxy.corp:3128 closed the connection before answering")
        _ = try? silent.channel.finish()
    }

    func testASilentProxyIsReportedAsSuch() throws {
        let dial = try self.dial()
        try dial.receive("HTTP/1.1 200 Connection")
        dial.channel.embeddedEventLoop.advanceTime(by: .seconds(31))
        XCTAssertEqual(dial.failure?.description, "proxy proxy.corp:3128 did not answer CONNECT within 30 s")
        XCTAssertFalse(dial.channel.isActive)
        _ = try? dial.channel.finish()
    }

    /// The credentials go to the proxy only: never into what is reported.
    func testCredentialsOnlyOnTheWire() throws {
        XCTAssertEqual(proxy.connectRequest(to: target), connectText)
        XCTAssertTrue(connectText.contains("Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"))
        let dial = try self.dial()
        XCTAssertEqual(try dial.sent(), connectText)
        try dial.receive("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
        let words = try XCTUnwrap(dial.failure?.description)
        XCTAssertFalse(words.contains("s3cret") || words.contains("YWxpY2U6czNjcmV0") || words.contains("alice"), words)
        _ = try? dial.channel.finish()
        XCTAssertEqual(
            try ProxySettings(parsing: "http://[::1]:3128").connectRequest(to: HostPort(host: "::1", port: 443)),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n")
    }
}
