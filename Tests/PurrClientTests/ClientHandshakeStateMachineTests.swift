import NIOCore
import PurrCore
import XCTest

@testable import PurrClient

/// The client's handshake state machine alone, every path, no channel: the proxy's answers in HTTP/1.0 and
/// 1.1, 407 rounds on one connection and once more on a new one, TLS after the proxy, refusals with their
/// bodies, bad accept values, an extension on a 101, early data, and a pooled connection's life.
final class ClientHandshakeStateMachineTests: XCTestCase {
    typealias Machine = ClientHandshakeStateMachine

    static let purr = Machine.Expectation(upgrade: .purr)

    func machine(proxy: Bool = false, tls: Bool = false, pooled: Bool = false, reconnected: Bool = false) -> Machine {
        Machine(
            settings: .init(proxy: proxy ? "proxy:3128" : nil, tls: tls, pooled: pooled, reconnected: reconnected, timeoutSeconds: 15),
            expectation: pooled ? nil : Self.purr)
    }

    func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// The failure an action carries.
    func failure(_ action: Machine.Action, file: StaticString = #filePath, line: UInt = #line) -> HandshakeFailure? {
        guard case .fail(let failure) = action else {
            XCTFail("not a failure: \(action)", file: file, line: line)
            return nil
        }
        return failure
    }

    // MARK: Direct

    func testDirectUpgradeHandsOverWithTheBytesBehindThe101() {
        var machine = machine()
        XCTAssertEqual(machine.connected(authorization: nil), .sendUpgrade)
        XCTAssertEqual(machine.read(bytes("HTTP/1.1 101 Switching")), .none)
        let rest = " Protocols\r\n" + UpgradeResponse.switching(.purr).dropFirst("HTTP/1.1 101 Switching Protocols\r\n".count)
        XCTAssertEqual(
            machine.read(bytes(rest + "SSH-2.0-x\r\n")), .handOver(framed: false, earlyData: false, behind: bytes("SSH-2.0-x\r\n")))
        XCTAssertEqual(machine.state, .done)
        XCTAssertEqual(machine.closed(), .none, "a finished handshake reacts to nothing")
        XCTAssertEqual(machine.timedOut(), .none)
    }

    func testA100ContinueBeforeThe101IsSkipped() {
        var machine = machine()
        _ = machine.connected(authorization: nil)
        let answer = "HTTP/1.1 100 Continue\r\n\r\n" + UpgradeResponse.switching(.purr)
        XCTAssertEqual(machine.read(bytes(answer)), .handOver(framed: false, earlyData: false, behind: ByteBuffer()))
    }

    /// Early data: the 101 says whether the server keeps bytes sent behind the head; the original 101 does not.
    func testEarlyDataIsLearnedFromThe101() {
        for (answer, keeps) in [(UpgradeResponse.switching(.purr, earlyData: true), true), (UpgradeResponse.switching(.purr), false)] {
            var machine = machine()
            _ = machine.connected(authorization: nil)
            XCTAssertEqual(machine.read(bytes(answer)), .handOver(framed: false, earlyData: keeps, behind: ByteBuffer()))
        }
    }

    /// The tunnel's last accepted 101 is remembered byte for byte: the same bytes again hand over without
    /// being read; other bytes (another early-data answer, a refusal, a 100 before it, a WebSocket
    /// request) are read in full as before, and a new accepted one replaces it.
    func testAKnownAnswerIsTakenByItsBytesAndAnythingElseIsRead() {
        let known = KnownAnswer()
        func machine(websocket: Bool = false) -> Machine {
            var machine = Machine(
                settings: .init(proxy: nil, tls: false, pooled: false, timeoutSeconds: 15, knownAnswer: known),
                expectation: websocket ? .init(upgrade: .websocket, webSocketKey: "dGhlIHNhbXBsZSBub25jZQ==") : Self.purr)
            _ = machine.connected(authorization: nil)
            return machine
        }
        let keeps = UpgradeResponse.switching(.purr, earlyData: true)
        var first = machine()
        XCTAssertEqual(first.read(bytes(keeps)), .handOver(framed: false, earlyData: true, behind: ByteBuffer()))
        var buffer = bytes(keeps + "behind")
        XCTAssertEqual(known.match(&buffer), true, "remembered")
        XCTAssertEqual(String(buffer: buffer), "behind")

        var again = machine()
        XCTAssertEqual(again.read(bytes(keeps + "SSH-2.0-x")), .handOver(framed: false, earlyData: true, behind: bytes("SSH-2.0-x")))
        // Cut short: not the known bytes yet, read as usual and completed by the rest.
        var cut = machine()
        XCTAssertEqual(cut.read(bytes(String(keeps.prefix(20)))), .none)
        XCTAssertEqual(cut.read(bytes(String(keeps.dropFirst(20)))), .handOver(framed: false, earlyData: true, behind: ByteBuffer()))

        // Another server's 101 (no early data) is read, and replaces the known one.
        var other = machine()
        XCTAssertEqual(
            other.read(bytes(UpgradeResponse.switching(.purr))), .handOver(framed: false, earlyData: false, behind: ByteBuffer()))
        buffer = bytes(keeps)
        XCTAssertNil(known.match(&buffer))
        XCTAssertEqual(buffer.readableBytes, keeps.utf8.count, "untouched when it does not match")

        // A refusal is still a refusal; an answer behind a 100 is not remembered.
        var refused = machine()
        XCTAssertEqual(
            failure(refused.read(bytes(UpgradeResponse.error(status: 503, reason: "Service Unavailable", message: "draining"))))?.status,
            503)
        var informational = machine()
        XCTAssertEqual(
            informational.read(bytes("HTTP/1.1 100 Continue\r\n\r\n" + keeps)),
            .handOver(framed: false, earlyData: true, behind: ByteBuffer()))
        buffer = bytes(keeps)
        XCTAssertNil(known.match(&buffer), "the 101 after a 100 was not remembered")

        // A WebSocket request never takes the shortcut: its accept value is checked every time.
        var webSocket = machine(websocket: true)
        XCTAssertNotNil(failure(webSocket.read(bytes(UpgradeResponse.switching(.purr)))))
    }

    // MARK: Refusals

    func testARefusalReadsItsBodyForTheErrorLine() {
        var machine = machine()
        _ = machine.connected(authorization: nil)
        let refusal = UpgradeResponse.error(status: 404, reason: "Not Found", message: "no route for /x")
        // Cut inside the body: the machine waits for the rest (Content-Length).
        XCTAssertEqual(machine.read(bytes(String(refusal.dropLast(4)))), .none)
        guard let failure = failure(machine.read(bytes(String(refusal.suffix(4))))) else { return }
        XCTAssertEqual(failure.description, "server answered 404 Not Found: no route for /x")
        XCTAssertEqual(failure.kind, .refused)
        XCTAssertEqual(failure.status, 404)
        XCTAssertEqual(failure.reason, "Not Found")
        XCTAssertEqual(failure.detail, "no route for /x")
    }

    /// A refusal's `Retry-After` (a draining server's 503) is kept, in seconds, bounded; anything else is none.
    func testARefusalKeepsItsRetryAfter() {
        let cases: [(String?, Int?)] = [("7", 7), (" 2 ", 2), ("0", 0), ("86400", 3600), ("soon", nil), ("-3", 0), (nil, nil)]
        for (value, expected) in cases {
            var machine = machine()
            _ = machine.connected(authorization: nil)
            let header = value.map { "Retry-After: \($0)\r\n" } ?? ""
            let answer = "HTTP/1.1 503 Service Unavailable\r\n\(header)Content-Length: 8\r\n\r\ndraining"
            let got = failure(machine.read(bytes(answer)))
            XCTAssertEqual(got?.status, 503, value ?? "none")
            XCTAssertEqual(got?.retryAfter, expected, value ?? "none")
        }
    }

    func testRefusalBodiesChunkedUntilCloseAndLongAreBounded() {
        var chunked = machine()
        _ = chunked.connected(authorization: nil)
        let head = "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
        XCTAssertEqual(chunked.read(bytes(head + "6\r\nnot al\r\n")), .none)
        XCTAssertEqual(
            failure(chunked.read(bytes("7;x=1\r\nlowed\n!\r\n0\r\n\r\n")))?.description, "server answered 403 Forbidden: not allowed")

        var untilClose = machine()
        _ = untilClose.connected(authorization: nil)
        XCTAssertEqual(untilClose.read(bytes("HTTP/1.0 503 Busy\r\n\r\ntry later")), .none)
        XCTAssertEqual(failure(untilClose.closed())?.description, "server answered 503 Busy: try later")

        // A body that never ends: the first 512 bytes are enough for the line.
        var long = machine()
        _ = long.connected(authorization: nil)
        let tail = String(repeating: "y", count: 600)
        let words = failure(long.read(bytes("HTTP/1.1 500 Oops\r\nContent-Length: 100000\r\n\r\n" + tail)))?.description
        XCTAssertEqual(words, "server answered 500 Oops: " + String(repeating: "y", count: Machine.refusalBodyLimit).printableLine)

        // The timeout ends a slow body with what came.
        var slow = machine()
        _ = slow.connected(authorization: nil)
        _ = slow.read(bytes("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 50\r\n\r\ncannot reach"))
        XCTAssertEqual(failure(slow.timedOut())?.description, "server answered 502 Bad Gateway: cannot reach")
    }

    func testBadAnswersAreOneLine() {
        let cases = [
            ("SSH-2.0-OpenSSH\r\n\r\n", "server sent a bad response: 'SSH-2.0-OpenSSH' is not an HTTP/1 status line"),
            ("HTTP/1.1 101 Switching Protocols\r\nno colon here\r\n\r\n", "server sent a bad response: bad header line 'no colon here'"),
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: purr\r\n\r\n", "server answered 101 without Connection"),
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", "server answered 101 with Upgrade: h2c"),
        ]
        for (answer, words) in cases {
            var machine = machine()
            _ = machine.connected(authorization: nil)
            let failure = failure(machine.read(bytes(answer)))
            XCTAssertEqual(failure?.description, words)
            XCTAssertEqual(failure?.kind, .badAnswer)
        }
        var endless = machine()
        _ = endless.connected(authorization: nil)
        let filler = "HTTP/1.1 101 Switching Protocols\r\n" + String(repeating: "X-Filler: 0123456789abcdef\r\n", count: 1000)
        XCTAssertEqual(
            failure(endless.read(bytes(filler)))?.description,
            "server sent a bad response: response head larger than \(PurrWire.maxHeadSize) bytes")

        var silent = machine()
        _ = silent.connected(authorization: nil)
        XCTAssertEqual(failure(silent.closed()), HandshakeFailure(kind: .closed, "server closed the connection before answering"))
        var slow = machine()
        _ = slow.connected(authorization: nil)
        XCTAssertEqual(failure(slow.timedOut()), HandshakeFailure(kind: .timeout, "server did not answer within 15 s"))
    }

    // MARK: WebSocket

    func testWebSocketAcceptValueExtensionsAndTheOriginal101() {
        let key = WebSocketHandshake.makeKey()
        let expectation = Machine.Expectation(upgrade: .websocket, webSocketKey: key)
        func answer(_ text: String) -> Machine.Action {
            var machine = Machine(settings: .init(proxy: nil, tls: false, pooled: false), expectation: expectation)
            _ = machine.connected(authorization: nil)
            return machine.read(bytes(text))
        }
        let good = WebSocketHandshake.switching(key: key, offered: [WebSocketHandshake.binaryProtocol])
        XCTAssertEqual(answer(good + "\u{82}\u{0}"), .handOver(framed: true, earlyData: false, behind: bytes("\u{82}\u{0}")))
        let wrong = WebSocketHandshake.switching(key: WebSocketHandshake.makeKey(), offered: [])
        XCTAssertEqual(failure(answer(wrong))?.kind, .badAnswer)
        XCTAssertTrue(failure(answer(wrong))?.description.hasPrefix("server answered 101 with Sec-WebSocket-Accept: ") ?? false)
        // An extension we did not offer: its frames would not be ours to read.
        let deflate = Self.withoutLastEmptyLine(good) + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        XCTAssertEqual(failure(answer(deflate))?.description, "server answered 101 with Sec-WebSocket-Extensions: permessage-deflate")
        // The original Purr server's 101 to a WebSocket request: raw bytes, without an extension only.
        let original = UpgradeResponse.switching(.websocket)
        XCTAssertEqual(answer(original), .handOver(framed: false, earlyData: false, behind: ByteBuffer()))
        let originalWithExtension = Self.withoutLastEmptyLine(original) + "Sec-WebSocket-Extensions: x-purr\r\n\r\n"
        XCTAssertEqual(failure(answer(originalWithExtension))?.kind, .badAnswer)
    }

    /// A head's text without its final CR LF, so a header can be added.
    static func withoutLastEmptyLine(_ head: String) -> String { String(decoding: head.utf8.dropLast(2), as: UTF8.self) }

    // MARK: Proxy

    /// Yes in HTTP/1.0 (tinyproxy) and 1.1 (squid), with headers that would mean a body elsewhere: the rest
    /// of the read is the server's, whatever they say.
    func testProxyYesIn10And11HandsTheRestOn() {
        for answer in [
            "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n", "HTTP/1.1 200 Connection established\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\n",
            "HTTP/1.0 200 Connection established\n\n",
        ] {
            var machine = machine(proxy: true)
            XCTAssertEqual(machine.connected(authorization: "Basic eA=="), .sendConnect(authorization: "Basic eA=="))
            XCTAssertEqual(
                machine.read(bytes(answer + "HTTP/1.1 101")), .proxyAccepted(challenges: [], behind: bytes("HTTP/1.1 101")), answer)
            XCTAssertEqual(machine.tunnelUp(), .sendUpgrade, answer)
            XCTAssertEqual(machine.read(bytes("HTTP/1.1 101")), .none)
        }
    }

    func testProxyRefusalsAndNonAnswers() {
        let cases: [(String, String)] = [
            ("HTTP/1.1 403 Forbidden\r\nContent-Length: 3042\r\n\r\n<!DOCTYPE html", "proxy proxy:3128 refused CONNECT: 403 Forbidden"),
            ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "proxy proxy:3128 refused CONNECT: 101 Switching Protocols"),
            ("HTTP/2 200\r\n\r\n", "proxy proxy:3128 sent a bad answer to CONNECT: 'HTTP/2 200'"),
        ]
        for (answer, words) in cases {
            var machine = machine(proxy: true)
            _ = machine.connected(authorization: nil)
            let failure = failure(machine.read(bytes(answer)))
            XCTAssertEqual(failure?.description, words)
            XCTAssertEqual(failure?.kind, .proxy)
        }
        var closing = machine(proxy: true)
        _ = closing.connected(authorization: nil)
        _ = closing.read(bytes("HTTP/1.1 200 OK\r\n"))
        XCTAssertEqual(failure(closing.closed())?.description, "proxy proxy:3128 closed the connection before answering")
        var silent = machine(proxy: true)
        _ = silent.connected(authorization: nil)
        XCTAssertEqual(failure(silent.timedOut()), HandshakeFailure(kind: .timeout, "proxy proxy:3128 did not answer CONNECT within 15 s"))
    }

    /// A 407 the proxy keeps the connection for: its body (by length or chunked) is dropped, the
    /// authenticator's next value goes in a new CONNECT on the same connection; then the proxy's yes.
    func testA407WithKeepAliveIsAnsweredOnTheSameConnection() {
        var machine = machine(proxy: true)
        XCTAssertEqual(machine.connected(authorization: nil), .sendConnect(authorization: nil))
        let challenge = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM\r\n"
        XCTAssertEqual(
            machine.read(bytes(challenge + "Content-Length: 10\r\n\r\n01234")), .authenticate(challenges: ["Negotiate", "NTLM"]))
        XCTAssertEqual(machine.authenticated(next: "Negotiate abc", scheme: "Negotiate"), .none, "the body is not read yet")
        XCTAssertEqual(machine.read(bytes("56789")), .sendConnect(authorization: "Negotiate abc"))
        // Round two: chunked, and the body arrives before the authenticator answers.
        XCTAssertEqual(
            machine.read(
                bytes("HTTP/1.1 407 Again\r\nProxy-Authenticate: Negotiate def\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")),
            .authenticate(challenges: ["Negotiate def"]))
        XCTAssertEqual(machine.authenticated(next: "Negotiate ghi", scheme: "Negotiate"), .sendConnect(authorization: "Negotiate ghi"))
        XCTAssertEqual(
            machine.read(bytes("HTTP/1.1 200 OK\r\nProxy-Authenticate: Negotiate mutual\r\n\r\n")),
            .proxyAccepted(challenges: ["Negotiate mutual"], behind: ByteBuffer()))
        XCTAssertEqual(machine.tunnelUp(), .sendUpgrade)
    }

    func test407RoundsAreBoundedAndAnAuthenticatorThatGivesUpEndsIt() {
        var machine = machine(proxy: true)
        _ = machine.connected(authorization: nil)
        let challenge = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n"
        for round in 1..<Machine.maxAuthenticationRounds {
            XCTAssertEqual(machine.read(bytes(challenge)), .authenticate(challenges: ["NTLM"]), "round \(round)")
            XCTAssertEqual(machine.authenticated(next: "NTLM \(round)", scheme: "NTLM"), .sendConnect(authorization: "NTLM \(round)"))
        }
        let last = failure(machine.read(bytes(challenge)))
        XCTAssertEqual(last?.description, "proxy proxy:3128 refused CONNECT: 407 Proxy Authentication Required (after 4 rounds)")
        XCTAssertEqual(last?.status, 407)

        var givingUp = self.machine(proxy: true)
        _ = givingUp.connected(authorization: nil)
        _ = givingUp.read(bytes(challenge))
        let refused = failure(givingUp.authenticated(next: nil, scheme: "Negotiate"))
        XCTAssertEqual(refused?.description, "proxy proxy:3128 refused Negotiate: 407 Proxy Authentication Required")
        XCTAssertEqual(refused?.kind, .proxy)
        var basic = self.machine(proxy: true)
        _ = basic.connected(authorization: "Basic eA==")
        _ = basic.read(bytes(challenge))
        XCTAssertEqual(
            failure(basic.authenticated(next: nil, scheme: "Basic"))?.description,
            "proxy proxy:3128 refused CONNECT: 407 Proxy Authentication Required")

        var local = self.machine(proxy: true)
        _ = local.connected(authorization: nil)
        _ = local.read(bytes(challenge))
        XCTAssertEqual(failure(local.authenticationFailed("no Kerberos ticket"))?.description, "proxy proxy:3128: no Kerberos ticket")

        var hugeBody = self.machine(proxy: true)
        _ = hugeBody.connected(authorization: nil)
        let big = "HTTP/1.1 407 No\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "z", count: Machine.challengeBodyLimit + 1)
        XCTAssertEqual(failure(hugeBody.read(bytes(big)))?.description, "proxy proxy:3128 sent a 407 body larger than 65536 bytes")
    }

    /// A 407 on a connection the proxy closes (HTTP/1.0, `Connection: close`, no length): once more on a
    /// new connection with the authenticator's next value; a second such 407 ends it.
    func testA407ThatClosesReconnectsOnce() {
        for challenge in [
            "HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n<html>no</html>",
            "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
            "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        ] {
            var first = machine(proxy: true)
            _ = first.connected(authorization: nil)
            XCTAssertEqual(
                first.read(bytes(challenge)), .authenticate(challenges: challenge.contains("Basic") ? ["Basic realm=\"x\""] : []))
            XCTAssertEqual(first.authenticated(next: "Basic eDp5", scheme: "Basic"), .reconnect(authorization: "Basic eDp5"))
            XCTAssertEqual(first.closed(), .none)

            var second = machine(proxy: true, reconnected: true)
            XCTAssertEqual(second.connected(authorization: "Basic eDp5"), .sendConnect(authorization: "Basic eDp5"))
            _ = second.read(bytes(challenge))
            XCTAssertEqual(
                failure(second.authenticated(next: "Basic eDp6", scheme: "Basic"))?.description,
                "proxy proxy:3128 refused CONNECT: 407 Proxy Authentication Required")
        }
        // Kept alive by its headers, but closed by the proxy while the body came: the same reconnect.
        var cut = machine(proxy: true)
        _ = cut.connected(authorization: nil)
        _ = cut.read(bytes("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 10\r\n\r\nabc"))
        _ = cut.authenticated(next: "NTLM x", scheme: "NTLM")
        XCTAssertEqual(cut.closed(), .reconnect(authorization: "NTLM x"))
        // Kept alive, the next CONNECT sent, then closed without an answer: that value once more, anew.
        var dropped = machine(proxy: true)
        _ = dropped.connected(authorization: nil)
        _ = dropped.read(bytes("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"))
        XCTAssertEqual(dropped.authenticated(next: "Basic eDp5", scheme: "Basic"), .sendConnect(authorization: "Basic eDp5"))
        XCTAssertEqual(dropped.closed(), .reconnect(authorization: "Basic eDp5"))
        var droppedAgain = machine(proxy: true, reconnected: true)
        _ = droppedAgain.connected(authorization: nil)
        _ = droppedAgain.read(bytes("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"))
        _ = droppedAgain.authenticated(next: "Basic eDp5", scheme: "Basic")
        XCTAssertEqual(failure(droppedAgain.closed())?.kind, .proxy)
    }

    /// TLS after the proxy: added once the proxy said yes, the request right behind it.
    func testTLSStartsAfterTheProxy() {
        var machine = machine(proxy: true, tls: true)
        _ = machine.connected(authorization: nil)
        XCTAssertEqual(machine.read(bytes("HTTP/1.1 200 OK\r\n\r\n")), .proxyAccepted(challenges: [], behind: ByteBuffer()))
        XCTAssertEqual(machine.tunnelUp(), .startTLS(sendUpgrade: true))
        XCTAssertEqual(machine.tlsHandshakeCompleted(), .none)
        XCTAssertEqual(
            machine.read(bytes(UpgradeResponse.switching(.purr))), .handOver(framed: false, earlyData: false, behind: ByteBuffer()))
    }

    // MARK: Pool

    func testPooledConnectionReadyThenClaimed() {
        var machine = machine(proxy: true, tls: true, pooled: true)
        _ = machine.connected(authorization: nil)
        _ = machine.read(bytes("HTTP/1.1 200 OK\r\n\r\n"))
        XCTAssertEqual(machine.tunnelUp(), .startTLS(sendUpgrade: false))
        XCTAssertEqual(
            machine.claim(Self.purr), .rejectClaim(HandshakeFailure(kind: .closed, "the pooled connection to the server closed")))
        XCTAssertEqual(machine.tlsHandshakeCompleted(), .ready)
        XCTAssertEqual(machine.state, .idle)
        XCTAssertEqual(machine.timedOut(), .none, "an idle connection has no handshake timer")
        XCTAssertEqual(machine.claim(Self.purr), .sendUpgrade)
        XCTAssertEqual(machine.retire(), .none, "a claimed connection is not the pool's to retire")
        XCTAssertEqual(
            machine.read(bytes(UpgradeResponse.switching(.purr))), .handOver(framed: false, earlyData: false, behind: ByteBuffer()))

        var plain = self.machine(pooled: true)
        XCTAssertEqual(plain.connected(authorization: nil), .ready)
        var direct = self.machine(tls: true, pooled: true)
        XCTAssertEqual(direct.connected(authorization: nil), .none)
        XCTAssertEqual(direct.tlsHandshakeCompleted(), .ready)
    }

    func testPooledConnectionLostRefreshedOrFailedBeforeReady() {
        var closed = machine(pooled: true)
        _ = closed.connected(authorization: nil)
        XCTAssertEqual(closed.closed(), .lost("the server closed the pooled connection"))
        XCTAssertEqual(closed.claim(Self.purr), .rejectClaim(HandshakeFailure(kind: .closed, "the pooled connection to the server closed")))

        var spoken = machine(pooled: true)
        _ = spoken.connected(authorization: nil)
        XCTAssertEqual(spoken.read(bytes("hello")), .lost("the server spoke before the request on a pooled connection"))

        var refreshed = machine(pooled: true)
        _ = refreshed.connected(authorization: nil)
        XCTAssertEqual(refreshed.retire(), .close)
        XCTAssertEqual(refreshed.closed(), .none, "a retired connection closes without a word")

        var failing = machine(proxy: true, pooled: true)
        _ = failing.connected(authorization: nil)
        XCTAssertEqual(
            failure(failing.read(bytes("HTTP/1.1 502 Bad Gateway\r\n\r\n")))?.description,
            "proxy proxy:3128 refused CONNECT: 502 Bad Gateway")

        var tlsFailing = machine(tls: true, pooled: true)
        _ = tlsFailing.connected(authorization: nil)
        XCTAssertEqual(failure(tlsFailing.failed(.tls, "certificate for x not trusted"))?.kind, .tls)
        var idleError = machine(pooled: true)
        _ = idleError.connected(authorization: nil)
        XCTAssertEqual(idleError.failed(.connect, "reset"), .lost("reset"))
    }
}
