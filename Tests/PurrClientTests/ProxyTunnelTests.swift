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

    /// A server connection's pipeline through `proxy`, connected; its outcome and what it sent.
    final class Dial {
        let channel = EmbeddedChannel()
        private(set) var result: Result<Void, HandshakeFailure>?

        init(_ test: ProxyTunnelTests) throws {
            let (proxy, target, request) = (test.proxy, test.target, test.request)
            let route = ClientHandshakeHandler.Route(
                proxy: proxy, target: target, tls: nil, timeout: .seconds(30), authenticator: BasicProxyAuthenticator(proxy: proxy))
            try ClientHandshakeHandler.install(on: channel) { handOver in
                ClientHandshakeHandler(route: route, request: request, handOver: handOver) { [unowned self] outcome in
                    // EmbeddedChannel: all on this thread
                    switch outcome {
                    case .upgraded: self.result = .success(())
                    case .failed(let failure): self.result = .failure(failure)
                    case .reconnect: self.result = .failure(HandshakeFailure("reconnect"))
                    }
                }
            }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 3128)).wait()
        }

        /// The failure's words, if it failed.
        var failure: String? {
            guard case .failure(let failure) = result else { return nil }
            return failure.description
        }

        /// Everything written so far, as text.
        func sent() throws -> String {
            var text = ""
            while let part = try channel.readOutbound(as: IOData.self) {
                if case .byteBuffer(let buffer) = part { text += String(buffer: buffer) }
            }
            return text
        }

        /// Delivers `text` in pieces of `chunk` bytes (0: all at once).
        func receive(_ text: String, chunk: Int = 0) throws {
            let bytes = Array(text.utf8)
            let size = chunk > 0 ? chunk : max(bytes.count, 1)
            for start in stride(from: 0, to: bytes.count, by: size) {
                try channel.writeInbound(ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)]))
            }
            channel.embeddedEventLoop.run()
        }

        /// The bytes that wait for the relay behind the 101.
        func held() throws -> String {
            let early = try channel.pipeline.syncOperations.handler(type: EarlyBytesHandler.self)
            var text = ""
            early.forward(upTo: 1 << 20) { text += String(buffer: $0) }
            return text
        }
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
                let dial = try Dial(self)
                XCTAssertEqual(try dial.sent(), connectText, label)
                try dial.receive(together ? answer + switching : answer, chunk: chunk)
                XCTAssertEqual(try dial.sent(), request.encoded(), "the upgrade request follows the proxy's yes: \(label)")
                if !together { try dial.receive(switching) }
                XCTAssertNotNil(try dial.result?.get(), label)
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
            let dial = try Dial(self)
            _ = try dial.sent()
            try dial.receive(answer)
            XCTAssertEqual(dial.failure, "proxy proxy.corp:3128 refused CONNECT: \(status)")
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
            let dial = try Dial(self)
            _ = try dial.sent()
            try dial.receive(answer)
            XCTAssertEqual(dial.failure, words)
            XCTAssertFalse(dial.channel.isActive)
            _ = try? dial.channel.finish()
        }
        let silent = try Dial(self)
        try silent.receive("HTTP/1.1 200 OK\r\n")
        silent.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertEqual(silent.failure, "proxy proxy.corp:3128 closed the connection before answering")
        _ = try? silent.channel.finish()
    }

    func testASilentProxyIsReportedAsSuch() throws {
        let dial = try Dial(self)
        try dial.receive("HTTP/1.1 200 Connection")
        dial.channel.embeddedEventLoop.advanceTime(by: .seconds(31))
        XCTAssertEqual(dial.failure, "proxy proxy.corp:3128 did not answer CONNECT within 30 s")
        XCTAssertFalse(dial.channel.isActive)
        _ = try? dial.channel.finish()
    }

    /// The credentials go to the proxy only: never into what is reported.
    func testCredentialsOnlyOnTheWire() throws {
        XCTAssertEqual(proxy.connectRequest(to: target), connectText)
        XCTAssertTrue(connectText.contains("Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"))
        let dial = try Dial(self)
        XCTAssertEqual(try dial.sent(), connectText)
        try dial.receive("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
        let words = try XCTUnwrap(dial.failure)
        XCTAssertFalse(words.contains("s3cret") || words.contains("YWxpY2U6czNjcmV0") || words.contains("alice"), words)
        _ = try? dial.channel.finish()
        XCTAssertEqual(
            try ProxySettings(parsing: "http://[::1]:3128").connectRequest(to: HostPort(host: "::1", port: 443)),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n")
    }
}
