import NIOCore
import NIOEmbedded
import NIOSSL
import PurrCore
import XCTest

@testable import PurrClient

/// The client's handshake handler in an `EmbeddedChannel`: what it writes, what it reports, and where the
/// bytes behind the 101 wait; proxy authentication rounds with a scripted authenticator; a pooled
/// connection's claim, loss and retirement. No sockets.
final class ClientHandshakeHandlerTests: XCTestCase {
    static let target = HostPort(host: "srv", port: 8080)
    static let request = UpgradeRequest(path: "/t", host: "srv:8080")

    /// An authenticator that answers from a script and records what it was asked.
    final class ScriptedAuthenticator: ProxyAuthenticator {
        var first: String?
        var answers: [String?]
        private(set) var challenges: [[String]] = []
        private(set) var acceptedWith: [[String]]?
        var failAccepted = false

        init(first: String?, answers: [String?]) {
            self.first = first
            self.answers = answers
        }

        var scheme: String? { "Negotiate" }
        func initialAuthorization() throws -> String? { first }

        func respond(to challenges: [String]) throws -> String? {
            self.challenges.append(challenges)
            return answers.isEmpty ? nil : answers.removeFirst()
        }

        func accepted(with challenges: [String]) throws {
            acceptedWith = [challenges]
            if failAccepted { throw HandshakeFailure("mutual authentication failed") }
        }
    }

    /// One server connection in an EmbeddedChannel, connected; its outcome and what it sent.
    final class Connection {
        let channel = EmbeddedChannel()
        private(set) var outcomes: [ClientHandshakeHandler.Outcome] = []
        private(set) var lostWords: [String] = []
        private(set) var handler: ClientHandshakeHandler!

        init(
            request: UpgradeRequest? = ClientHandshakeHandlerTests.request, proxy: ProxySettings? = nil,
            authenticator: (any ProxyAuthenticator)? = nil, resumeWith: String? = nil, requestBytes: RequestBytes? = nil,
            timeout: TimeAmount = .seconds(5), tls: NIOSSLContext? = nil
        ) throws {
            let route = ClientHandshakeHandler.Route(
                proxy: proxy, target: ClientHandshakeHandlerTests.target, tls: tls.map { ($0, "srv") }, timeout: timeout,
                authenticator: authenticator,
                resumeWith: resumeWith, requestBytes: requestBytes)
            try ClientHandshakeHandler.install(on: channel) { handOver in
                let handler = ClientHandshakeHandler(
                    route: route, request: request, handOver: handOver, lost: { [unowned self] in self.lostWords.append($0) }
                ) { [unowned self] outcome in self.outcomes.append(outcome) }
                self.handler = handler
                return handler
            }
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 3128)).wait()
        }

        func sent() throws -> String {
            var text = ""
            while let part = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: part) }
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

        /// The bytes waiting at the tail for the relay.
        func held() throws -> String {
            let early = try channel.pipeline.syncOperations.handler(type: RelayEndHandler.self)
            var text = ""
            early.forward(upTo: 1 << 20) { text += String(buffer: $0) }
            return text
        }

        var upgraded: Bool {
            guard outcomes.count == 1, case .upgraded = outcomes[0] else { return false }
            return true
        }

        var failure: HandshakeFailure? {
            guard outcomes.count == 1, case .failed(let failure) = outcomes[0] else { return nil }
            return failure
        }

        var handshakeGone: Bool { (try? channel.pipeline.syncOperations.handler(type: ClientHandshakeHandler.self)) == nil }
    }

    func testDirectUpgradeLeavesOnlyTheHolderWithTheBytesBehindThe101() throws {
        let connection = try Connection()
        XCTAssertEqual(try connection.sent(), Self.request.encoded())
        try connection.receive(UpgradeResponse.switching(.purr) + "SSH-2.0-x\r\n")
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        XCTAssertTrue(connection.upgraded)
        XCTAssertTrue(connection.handshakeGone)
        XCTAssertEqual(try connection.held(), "SSH-2.0-x\r\n")
        XCTAssertTrue(connection.channel.isActive, "the relay owns it now")
        _ = try? connection.channel.finish()
    }

    func testARefusalIsReportedTypedAndTheConnectionClosed() throws {
        let connection = try Connection()
        _ = try connection.sent()
        try connection.receive(UpgradeResponse.error(status: 404, reason: "Not Found", message: "no route for /t"))
        XCTAssertEqual(connection.failure?.kind, .refused)
        XCTAssertEqual(connection.failure?.status, 404)
        XCTAssertEqual(connection.failure?.description, "server answered 404 Not Found: no route for /t")
        XCTAssertFalse(connection.channel.isActive)
        XCTAssertEqual(DialOutcome(try XCTUnwrap(connection.failure)), .notAllowed("server answered 404 Not Found: no route for /t"))
    }

    func testTheTimerEndsASilentServer() throws {
        let connection = try Connection()
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        XCTAssertEqual(connection.failure, HandshakeFailure(kind: .timeout, "server did not answer within 5 s"))
        XCTAssertFalse(connection.channel.isActive)
        XCTAssertEqual(DialOutcome(try XCTUnwrap(connection.failure)), .timedOut("server did not answer within 5 s"))
    }

    func testWebSocketFramesBehindThe101AreDecodedIntoTheHolder() throws {
        var request = Self.request
        request.upgrade = .websocket
        request.webSocketKey = WebSocketHandshake.makeKey()
        let connection = try Connection(request: request)
        _ = try connection.sent()
        var bytes = ByteBuffer(
            string: WebSocketHandshake.switching(key: request.webSocketKey!, offered: [WebSocketHandshake.binaryProtocol]))
        bytes.writeBytes([0x82, 0x05] + Array("hello".utf8))
        try connection.channel.writeInbound(bytes)
        connection.channel.embeddedEventLoop.run()
        XCTAssertTrue(connection.upgraded)
        XCTAssertNotNil(try? connection.channel.pipeline.syncOperations.handler(type: WebSocketFrameBridge.self))
        XCTAssertEqual(try connection.held(), "hello", "the frame's payload waits for the relay")
        _ = try? connection.channel.finish()
    }

    /// Negotiate-style rounds on one proxy connection: the first CONNECT without a value, the 407's body
    /// dropped, the next CONNECT with the authenticator's value, the yes checked by it, then the upgrade.
    func testProxyAuthenticationRoundsOnOneConnection() throws {
        let proxy = try ProxySettings(parsing: "http://proxy.corp:3128")
        let authenticator = ScriptedAuthenticator(first: nil, answers: ["Negotiate abc"])
        let connection = try Connection(proxy: proxy, authenticator: authenticator)
        XCTAssertEqual(try connection.sent(), "CONNECT srv:8080 HTTP/1.1\r\nHost: srv:8080\r\n\r\n")
        try connection.receive(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nContent-Length: 4\r\n\r\nnope")
        XCTAssertEqual(authenticator.challenges, [["Negotiate"]])
        XCTAssertEqual(try connection.sent(), "CONNECT srv:8080 HTTP/1.1\r\nHost: srv:8080\r\nProxy-Authorization: Negotiate abc\r\n\r\n")
        try connection.receive("HTTP/1.1 200 OK\r\nProxy-Authenticate: Negotiate xyz\r\n\r\n" + UpgradeResponse.switching(.purr) + "banner")
        XCTAssertEqual(authenticator.acceptedWith, [["Negotiate xyz"]])
        XCTAssertEqual(try connection.sent(), Self.request.encoded())
        XCTAssertTrue(connection.upgraded)
        XCTAssertEqual(try connection.held(), "banner")
        _ = try? connection.channel.finish()
    }

    func testProxyAuthenticationFailuresAndTheReconnect() throws {
        let proxy = try ProxySettings(parsing: "http://proxy.corp:3128")
        let closing = "HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n\r\n"

        let reconnecting = try Connection(proxy: proxy, authenticator: ScriptedAuthenticator(first: nil, answers: ["Negotiate abc"]))
        _ = try reconnecting.sent()
        try reconnecting.receive(closing)
        guard reconnecting.outcomes.count == 1, case .reconnect(let value) = reconnecting.outcomes[0] else {
            return XCTFail("no reconnect: \(reconnecting.outcomes)")
        }
        XCTAssertEqual(value, "Negotiate abc")
        XCTAssertFalse(reconnecting.channel.isActive)

        // The new connection starts with that value and does not reconnect again.
        let second = try Connection(
            proxy: proxy, authenticator: ScriptedAuthenticator(first: nil, answers: ["Negotiate def"]), resumeWith: value)
        XCTAssertEqual(try second.sent(), "CONNECT srv:8080 HTTP/1.1\r\nHost: srv:8080\r\nProxy-Authorization: Negotiate abc\r\n\r\n")
        try second.receive(closing)
        XCTAssertEqual(second.failure?.description, "proxy proxy.corp:3128 refused Negotiate: 407 Proxy Authentication Required")
        XCTAssertEqual(second.failure?.kind, .proxy)

        let mutual = ScriptedAuthenticator(first: "Negotiate first", answers: [])
        mutual.failAccepted = true
        let failing = try Connection(proxy: proxy, authenticator: mutual)
        XCTAssertEqual(try failing.sent(), "CONNECT srv:8080 HTTP/1.1\r\nHost: srv:8080\r\nProxy-Authorization: Negotiate first\r\n\r\n")
        try failing.receive("HTTP/1.1 200 OK\r\n\r\n")
        XCTAssertEqual(failing.failure?.description, "proxy proxy.corp:3128: mutual authentication failed")
        XCTAssertEqual(try failing.sent(), "", "nothing goes to the server after a failed mutual authentication")

        let broken = try Connection(proxy: proxy, authenticator: ScriptedAuthenticator(first: "bad\r\nX-Injected: 1", answers: []))
        XCTAssertEqual(try broken.sent(), "", "a value that would end the line is not sent")
        XCTAssertEqual(broken.failure?.kind, .proxy)
    }

    /// Through a proxy with TLS to the server: TLS (and the half-close guard in front of it) goes in once
    /// the proxy said yes, and its first bytes (a ClientHello) are the first the server sees; the request
    /// waits inside TLS. A pooled connection would wait for the TLS handshake.
    func testTLSStartsAfterTheProxysYes() throws {
        let proxy = try ProxySettings(parsing: "http://proxy.corp:3128")
        let context = try ClientTLS.makeContext(caFile: nil, insecure: true)
        let connection = try Connection(proxy: proxy, authenticator: BasicProxyAuthenticator(proxy: proxy), tls: context)
        XCTAssertEqual(try connection.sent(), "CONNECT srv:8080 HTTP/1.1\r\nHost: srv:8080\r\n\r\n")
        XCTAssertNil(try? connection.channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self), "no TLS to the proxy")
        try connection.receive("HTTP/1.0 200 Connection established\r\n\r\n")
        let operations = connection.channel.pipeline.syncOperations
        XCTAssertNotNil(try? operations.handler(type: NIOSSLClientHandler.self))
        XCTAssertNotNil(try? operations.handler(type: ProxyHalfCloseHandler.self))
        let hello = try XCTUnwrap(connection.channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(hello.getInteger(at: hello.readerIndex, as: UInt8.self), 0x16, "a TLS handshake record")
        XCTAssertFalse(String(buffer: hello).contains("GET /t"), "the request is not sent in the clear")
        XCTAssertTrue(connection.outcomes.isEmpty)
        _ = try? connection.channel.finish()
    }

    func testPooledConnectionIsClaimedLostOrRetired() throws {
        let pooled = try Connection(request: nil)
        XCTAssertTrue(pooled.upgraded, "ready")
        XCTAssertEqual(try pooled.sent(), "", "nothing before a claim")
        var claimed: [ClientHandshakeHandler.Outcome] = []
        pooled.handler.claim(request: Self.request, earlyData: nil) { claimed.append($0) }
        XCTAssertEqual(try pooled.sent(), Self.request.encoded())
        try pooled.receive(UpgradeResponse.switching(.purr))
        guard claimed.count == 1, case .upgraded = claimed[0] else { return XCTFail("not upgraded: \(claimed)") }
        XCTAssertTrue(pooled.lostWords.isEmpty)
        _ = try? pooled.channel.finish()

        let lost = try Connection(request: nil)
        try lost.receive("surprise")
        XCTAssertEqual(lost.lostWords, ["the server spoke before the request on a pooled connection"])
        XCTAssertFalse(lost.channel.isActive)
        var late: [ClientHandshakeHandler.Outcome] = []
        lost.handler.claim(request: Self.request, earlyData: nil) { late.append($0) }
        guard late.count == 1, case .failed(let failure) = late[0] else { return XCTFail("a lost connection took a claim") }
        XCTAssertEqual(failure.description, "the pooled connection to the server closed")

        let retired = try Connection(request: nil)
        retired.handler.retire()
        retired.channel.embeddedEventLoop.run()
        XCTAssertFalse(retired.channel.isActive)
        XCTAssertTrue(retired.lostWords.isEmpty, "a retired connection is not reported lost")
    }
}
