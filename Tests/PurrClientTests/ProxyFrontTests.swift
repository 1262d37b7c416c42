import NIOCore
import NIOEmbedded
import PurrCore
import XCTest

@testable import PurrClient

/// The dynamic tunnel's local protocols, byte by byte, in an `EmbeddedChannel`.
final class ProxyFrontTests: XCTestCase {
    /// A front handler in a channel, with what it asked for and what it refused.
    final class Harness {
        let channel = EmbeddedChannel()
        var requests: [ProxyFront.Request] = []
        var refusals: [String] = []
        let front: ProxyFrontHandler

        init(mode: TunnelMode = .proxy, credentials: ProxyCredentials? = nil) throws {
            var requests: [ProxyFront.Request] = []
            var refusals: [String] = []
            front = ProxyFrontHandler(
                mode: mode, credentials: credentials, onRequest: { _, request in requests.append(request) },
                onRefused: { refusals.append($0) })
            try channel.pipeline.syncOperations.addHandler(front)
            channel.localAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            self.requestsBox = { requests }
            self.refusalsBox = { refusals }
        }

        private var requestsBox: () -> [ProxyFront.Request] = { [] }
        private var refusalsBox: () -> [String] = { [] }
        var asked: [ProxyFront.Request] { requestsBox() }
        var refused: [String] { refusalsBox() }

        /// Sends the bytes one at a time: every message must survive any split.
        func send(_ bytes: [UInt8]) throws {
            for byte in bytes { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        }

        func written() throws -> [UInt8] {
            var out: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
            return out
        }

        func passedOn() throws -> [UInt8] {
            var out: [UInt8] = []
            while let buffer = try channel.readInbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
            return out
        }
    }

    func testSocks5ConnectWithEachAddressTypeAndTheEarlyBytesKept() throws {
        let cases: [([UInt8], String)] = [
            ([1, 10, 0, 0, 5], "10.0.0.5:22"),
            ([4] + [UInt8](repeating: 0, count: 15) + [1], "[::1]:22"),
            ([3, 12] + Array("db.internal.".utf8), "db.internal.:22"),
        ]
        for (address, expected) in cases {
            let harness = try Harness(mode: .socks5)
            try harness.send([5, 2, 0, 2])
            XCTAssertEqual(try harness.written(), [5, 0])
            try harness.send([5, 1, 0] + address + [0, 22] + Array("SSH-2.0-x\r\n".utf8))
            XCTAssertEqual(harness.asked.map(\.target.description), [expected])
            XCTAssertEqual(String(decoding: try harness.passedOn(), as: UTF8.self), "SSH-2.0-x\r\n", "bytes behind the request go on")
            XCTAssertEqual(try harness.written(), [], "no reply before the server answered")
            harness.front.answer(.connected)
            XCTAssertEqual(try harness.written(), [5, 0, 0, 1, 127, 0, 0, 1, 0, 1], "success with the bound address")
        }
    }

    func testSocks5RefusesBindUDPAndUnknownAddressTypes() throws {
        for (command, atyp, code) in [(UInt8(2), UInt8(1), UInt8(7)), (3, 1, 7), (1, 9, 8)] {
            let harness = try Harness(mode: .socks5)
            try harness.send([5, 1, 0, 5, command, 0, atyp, 127, 0, 0, 1, 0, 80])
            XCTAssertEqual(Array(try harness.written().suffix(10)), [5, code, 0, 1, 0, 0, 0, 0, 0, 0])
            XCTAssertTrue(harness.asked.isEmpty)
            XCTAssertFalse(harness.channel.isActive)
            XCTAssertEqual(harness.refused.count, 1)
        }
    }

    func testSocks5UsernamePassword() throws {
        let credentials = try ProxyCredentials(user: "alice", password: "pw")
        let good = try Harness(mode: .socks5, credentials: credentials)
        try good.send([5, 1, 0])  // no acceptable method
        XCTAssertEqual(try good.written(), [5, 0xFF])
        XCTAssertFalse(good.channel.isActive)

        let right = try Harness(mode: .socks5, credentials: credentials)
        try right.send([5, 2, 0, 2, 1, 5] + Array("alice".utf8) + [2] + Array("pw".utf8))
        XCTAssertEqual(try right.written(), [5, 2, 1, 0])
        try right.send([5, 1, 0, 1, 127, 0, 0, 1, 0, 80])
        XCTAssertEqual(right.asked.count, 1)

        let wrong = try Harness(mode: .socks5, credentials: credentials)
        try wrong.send([5, 1, 2, 1, 5] + Array("alice".utf8) + [2] + Array("no".utf8))
        XCTAssertEqual(try wrong.written(), [5, 2, 1, 1])
        XCTAssertFalse(wrong.channel.isActive)
    }

    func testSocks5ReplyCodesForEachServerAnswer() throws {
        let cases: [(String, UInt8)] = [
            ("server answered 403 Forbidden: target x is not allowed", 2), ("server answered 404 Not Found: no route for /x", 2),
            ("server answered 401 Unauthorized", 2), ("server answered 502 Bad Gateway: connection refused to 127.0.0.1:1", 5),
            ("server answered 502 Bad Gateway: cannot reach 10.0.0.1:1: host unreachable", 4),
            ("server answered 504 Gateway Timeout: no target chosen", 6), ("server did not answer within 15 s", 6),
            ("connection refused by 127.0.0.1:8080", 1), ("server answered 503 Service Unavailable", 1),
        ]
        for (words, code) in cases {
            let harness = try Harness(mode: .socks5)
            try harness.send([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80])
            _ = try harness.written()
            harness.front.answer(DialOutcome(HandshakeFailure(words)))
            XCTAssertEqual(try harness.written(), [5, code, 0, 1, 0, 0, 0, 0, 0, 0], words)
            XCTAssertFalse(harness.channel.isActive, words)
        }
    }

    /// The failures as the handshake reports them (kind and status, not words): each reply code.
    func testSocks5ReplyCodesForTypedFailures() throws {
        let cases: [(HandshakeFailure, UInt8)] = [
            (.refused(status: 403, reason: "Forbidden", detail: "target 10.9.8.7:80 is not allowed for route /t/{host}/{port}"), 2),
            (.refused(status: 404, reason: "Not Found", detail: "no route for /x"), 2),
            (.refused(status: 401, reason: "Unauthorized", detail: ""), 2),
            (.refused(status: 502, reason: "Bad Gateway", detail: "cannot connect to 127.0.0.1:1: connection refused"), 5),
            (.refused(status: 502, reason: "Bad Gateway", detail: "cannot connect to 255.255.255.255:80: network unreachable"), 4),
            (.refused(status: 502, reason: "Bad Gateway", detail: ""), 4),
            (.refused(status: 504, reason: "Gateway Timeout", detail: "resolver did not answer"), 6),
            (HandshakeFailure(kind: .timeout, "server did not answer within 15 s"), 6),
            (.refused(status: 503, reason: "Service Unavailable", detail: "over the connection limit"), 1),
            // The server itself refused: not the target (0x05 would blame the target).
            (HandshakeFailure(kind: .connect, "cannot connect to 127.0.0.1:8080: connection refused"), 1),
            (HandshakeFailure(kind: .tls, "TLS handshake with purr.example failed: certificate expired"), 1),
            (HandshakeFailure(kind: .proxy, status: 407, reason: "Proxy Authentication Required", "proxy refused: 407"), 1),
            (HandshakeFailure(kind: .closed, "the server closed the connection before answering"), 1),
            (HandshakeFailure(kind: .badAnswer, "the server answered 101 without Upgrade: purr"), 1),
        ]
        for (failure, code) in cases {
            let harness = try Harness(mode: .socks5)
            try harness.send([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80])
            _ = try harness.written()
            harness.front.answer(DialOutcome(failure))
            XCTAssertEqual(try harness.written(), [5, code, 0, 1, 0, 0, 0, 0, 0, 0], failure.description)
        }
        // The HTTP proxy: 4xx -> 403, 504 or a timeout -> 504, the rest 502; the server's words as the body.
        for (failure, status) in [
            (HandshakeFailure.refused(status: 401, reason: "Unauthorized", detail: "token required"), "403 Forbidden"),
            (HandshakeFailure(kind: .timeout, "server did not answer within 15 s"), "504 Gateway Timeout"),
            (HandshakeFailure(kind: .tls, "TLS handshake failed"), "502 Bad Gateway"),
        ] {
            let refused = try Harness(mode: .httpProxy)
            try refused.send(Array("CONNECT a.example:22 HTTP/1.1\r\n\r\n".utf8))
            refused.front.answer(DialOutcome(failure))
            let text = String(decoding: try refused.written(), as: UTF8.self)
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 \(status)\r\n"), text)
            XCTAssertTrue(text.hasSuffix("\r\n\r\n\(failure.description)\n"), text)
        }
    }

    func testSocks4AndSocks4a() throws {
        let plain = try Harness(mode: .socks5)
        try plain.send([4, 1, 0, 80, 10, 0, 0, 7] + Array("me".utf8) + [0])
        XCTAssertEqual(plain.asked.map(\.target.description), ["10.0.0.7:80"])
        plain.front.answer(.connected)
        XCTAssertEqual(try plain.written(), [0, 0x5A, 0, 0, 0, 0, 0, 0])

        let named = try Harness(mode: .socks5)
        try named.send([4, 1, 1, 187, 0, 0, 0, 1] + [0] + Array("example.org".utf8) + [0])
        XCTAssertEqual(named.asked.map(\.target.description), ["example.org:443"])
        named.front.answer(.notAllowed("no"))
        XCTAssertEqual(try named.written(), [0, 0x5B, 0, 0, 0, 0, 0, 0])
    }

    func testHTTPConnectAndItsAnswers() throws {
        let harness = try Harness(mode: .httpProxy)
        try harness.send(Array("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\nhello".utf8))
        XCTAssertEqual(harness.asked.map(\.target.description), ["[::1]:443"])
        XCTAssertEqual(try harness.passedOn(), Array("hello".utf8))
        harness.front.answer(.connected)
        XCTAssertEqual(String(decoding: try harness.written(), as: UTF8.self), "HTTP/1.1 200 Connection established\r\n\r\n")

        for (words, status) in [
            ("server answered 403 Forbidden: target 10.0.0.1:22 is not allowed for route /t", "403 Forbidden"),
            ("server answered 502 Bad Gateway: connection refused to 127.0.0.1:1", "502 Bad Gateway"),
            ("server did not answer within 15 s", "504 Gateway Timeout"),
        ] {
            let refused = try Harness(mode: .httpProxy)
            try refused.send(Array("CONNECT a.example:22 HTTP/1.1\r\n\r\n".utf8))
            refused.front.answer(DialOutcome(HandshakeFailure(words)))
            let text = String(decoding: try refused.written(), as: UTF8.self)
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 \(status)\r\n"), text)
            XCTAssertTrue(text.hasSuffix("\r\n\r\n\(words)\n"), "the reason is the body: \(text)")
        }
    }

    func testPlainHTTPRequestIsRewrittenToOriginForm() throws {
        let harness = try Harness(mode: .proxy)
        let request =
            "POST http://Example.org:8080/a/b?c=d HTTP/1.1\r\nHost: example.org:8080\r\nProxy-Connection: keep-alive\r\n"
            + "Proxy-Authorization: Basic eDp5\r\nContent-Length: 4\r\n\r\nbody"
        try harness.send(Array(request.utf8))
        XCTAssertEqual(harness.asked.map(\.target.description), ["Example.org:8080"])
        XCTAssertEqual(
            String(decoding: try harness.passedOn(), as: UTF8.self),
            "POST /a/b?c=d HTTP/1.1\r\nHost: Example.org:8080\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody")
        harness.front.answer(.connected)
        XCTAssertEqual(try harness.written(), [], "the target answers a plain request itself")
    }

    /// One plain request per connection: a second one pipelined behind the first (in the same read, while
    /// dialing, or once relaying) never reaches the first target, which may be another host (found
    /// attacking it: it was relayed as it was, with the other host's name and cookies).
    func testAPipelinedSecondPlainRequestDoesNotReachTheFirstTarget() throws {
        let second = "GET http://other.example/ HTTP/1.1\r\nHost: other.example\r\nCookie: other=secret\r\n\r\n"
        let harness = try Harness(mode: .httpProxy)
        try harness.channel.writeInbound(
            ByteBuffer(string: "POST http://a.example/x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\nab"))
        try harness.channel.writeInbound(ByteBuffer(string: "c" + second))
        harness.front.answer(.connected)
        try harness.channel.writeInbound(ByteBuffer(string: second))
        XCTAssertEqual(
            String(decoding: try harness.passedOn(), as: UTF8.self),
            "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        let get = try Harness(mode: .httpProxy)
        try get.channel.writeInbound(ByteBuffer(string: "GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n" + second))
        XCTAssertEqual(
            String(decoding: try get.passedOn(), as: UTF8.self), "GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
        // A chunked body passes as it comes (its end is the target's to find); a CONNECT is a tunnel.
        let chunked = try Harness(mode: .httpProxy)
        try chunked.channel.writeInbound(
            ByteBuffer(string: "POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
        XCTAssertTrue(String(decoding: try chunked.passedOn(), as: UTF8.self).hasSuffix("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
        for length in ["x", "-1", "3\r\nContent-Length: 4"] {
            let bad = try Harness(mode: .httpProxy)
            try bad.channel.writeInbound(ByteBuffer(string: "POST http://a.example/ HTTP/1.1\r\nContent-Length: \(length)\r\n\r\n"))
            XCTAssertTrue(String(decoding: try bad.written(), as: UTF8.self).hasPrefix("HTTP/1.1 400 "), length)
            XCTAssertTrue(bad.asked.isEmpty, length)
        }
    }

    /// What servers behind a proxy could read two ways is refused, not passed on (found attacking it):
    /// Content-Length with Transfer-Encoding, a coding that does not end in chunked, a bare CR or LF, a
    /// control byte, a folded line, a line that is not name: value; and the Host is the URL's, not the
    /// client's. Bare LF line ends are refused at once, not at the timeout.
    func testAmbiguousHeadsAreRefusedAndTheHostIsTheURLs() throws {
        let smuggling = [
            "POST http://a.example/ HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "GET http://a.example/x\rY HTTP/1.1\r\n\r\n",
            "GET http://a.example/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            "GET http://a.example/ HTTP/1.1\r\nX-A: 1\u{0}\r\n\r\n",
            "GET http://a.example/ HTTP/1.1\r\nno colon here\r\n\r\n",
            "CONNECT a.example:22 HTTP/1.1\n\n",
        ]
        for request in smuggling {
            let harness = try Harness(mode: .httpProxy)
            try harness.channel.writeInbound(ByteBuffer(string: request))
            XCTAssertTrue(String(decoding: try harness.written(), as: UTF8.self).hasPrefix("HTTP/1.1 400 "), request)
            XCTAssertTrue(harness.asked.isEmpty, request)
        }
        let host = try Harness(mode: .httpProxy)
        try host.send(Array("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\nAccept: */*\r\n\r\n".utf8))
        XCTAssertEqual(
            String(decoding: try host.passedOn(), as: UTF8.self),
            "GET / HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    }

    func testHTTPProxyRefusesWhatItCannotServe() throws {
        let cases = [
            "GET /local HTTP/1.1\r\n\r\n", "GET https://x.example/ HTTP/1.1\r\n\r\n", "CONNECT nohost HTTP/1.1\r\n\r\n",
            "GET http://user@x.example/ HTTP/1.1\r\n\r\n", "BREW pot HTTP/2\r\n\r\n",
        ]
        for request in cases {
            let harness = try Harness(mode: .httpProxy)
            try harness.channel.writeInbound(ByteBuffer(string: request))
            XCTAssertTrue(String(decoding: try harness.written(), as: UTF8.self).hasPrefix("HTTP/1.1 400 "), request)
            XCTAssertTrue(harness.asked.isEmpty, request)
        }
        let huge = try Harness(mode: .httpProxy)
        try huge.channel.writeInbound(ByteBuffer(string: "GET http://x/ HTTP/1.1\r\n" + String(repeating: "a", count: 17000)))
        XCTAssertTrue(String(decoding: try huge.written(), as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
        // Whole in one read, over the limit all the same (found attacking it: it went on to the target).
        let whole = try Harness(mode: .httpProxy)
        try whole.channel.writeInbound(
            ByteBuffer(string: "GET http://x/ HTTP/1.1\r\nX: " + String(repeating: "a", count: 17000) + "\r\n\r\n"))
        XCTAssertTrue(String(decoding: try whole.written(), as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
        XCTAssertTrue(whole.asked.isEmpty)
        // Just under it, a byte at a time: found (its end is searched for once, not once per byte).
        let padded = "CONNECT x:1 HTTP/1.1\r\nX: " + String(repeating: "b", count: ProxyFront.maxRequest - 30) + "\r\n\r\n"
        XCTAssertLessThanOrEqual(padded.utf8.count, ProxyFront.maxRequest)
        let slow = try Harness(mode: .httpProxy)
        try slow.send(Array(padded.utf8) + [0x21])
        XCTAssertEqual(slow.asked.map(\.target.description), ["x:1"])
        XCTAssertEqual(try slow.passedOn(), [0x21])
        let basic = try Harness(mode: .httpProxy, credentials: try ProxyCredentials(user: "u", password: "p"))
        try basic.channel.writeInbound(ByteBuffer(string: "CONNECT x:1 HTTP/1.1\r\n\r\n"))
        XCTAssertTrue(String(decoding: try basic.written(), as: UTF8.self).hasPrefix("HTTP/1.1 407 "))
        let authorized = try Harness(mode: .httpProxy, credentials: try ProxyCredentials(user: "u", password: "p"))
        try authorized.channel.writeInbound(ByteBuffer(string: "CONNECT x:1 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n\r\n"))
        XCTAssertEqual(authorized.asked.count, 1)
    }

    func testModesServeOnlyTheirProtocols() throws {
        let socksOnly = try Harness(mode: .socks5)
        try socksOnly.channel.writeInbound(ByteBuffer(string: "CONNECT x:1 HTTP/1.1\r\n\r\n"))
        XCTAssertTrue(String(decoding: try socksOnly.written(), as: UTF8.self).hasPrefix("HTTP/1.1 400 "))
        let httpOnly = try Harness(mode: .httpProxy)
        try httpOnly.channel.writeInbound(ByteBuffer(bytes: [5, 1, 0]))
        XCTAssertEqual(try httpOnly.written(), [])
        XCTAssertFalse(httpOnly.channel.isActive)
        let garbage = try Harness(mode: .proxy)
        try garbage.channel.writeInbound(ByteBuffer(bytes: [0x16, 3, 1]))
        XCTAssertFalse(garbage.channel.isActive)
    }

    func testTheTemplateIsFilledPercentEncoded() throws {
        let template = try ServerURL(parsingTemplate: "https://purr.example/t/{host}/{port}?x=1")
        XCTAssertEqual(template.path, "/t/{host}/{port}?x=1")
        XCTAssertEqual(DynamicTarget(host: "DB.internal", port: 5432)!.fill(template.path), "/t/DB.internal/5432?x=1")
        XCTAssertEqual(DynamicTarget(host: "0:0::1", port: 22)!.fill(template.path), "/t/::1/22?x=1", "IPv6 as a canonical literal")
        // What is no name or address never reaches a path (or a log): `..`, spaces, slashes, controls.
        for bad in ["a b/../c", "..", ".", "a\r\nX: y", "x\u{1B}[2J", "-x.example"] {
            XCTAssertNil(DynamicTarget(host: bad, port: 1), bad)
        }
        XCTAssertEqual(DynamicTarget(host: "db.internal.", port: 1)!.fill("/t/{host}/{port}"), "/t/db.internal./1", "a rooted name")
        XCTAssertNil(DynamicTarget(host: "x", port: 0))
        XCTAssertThrowsError(try ServerURL(parsingTemplate: "https://purr.example/t/{host}")) { XCTAssertTrue("\($0)".contains("{port}")) }
        XCTAssertThrowsError(try ServerURL(parsingTemplate: "https://{host}:{port}/t")) { _ in }
    }

    func testTunnelsFileReadsDynamicTunnels() throws {
        let file = try TunnelsFile.parse(
            """
            [[tunnels]]
            name = "office"
            mode = "proxy"
            url = "https://purr.example/t/{host}/{port}"
            listen = "127.0.0.1:1080"
            allow = ["10.0.0.0/8:*", "*.office.example:443"]
            proxy_user = "me"
            proxy_password = "pw"
            """, file: "tunnels.toml")
        let tunnel = try XCTUnwrap(file.tunnels.first)
        XCTAssertEqual(tunnel.mode, .proxy)
        XCTAssertEqual(tunnel.allow?.description, "10.0.0.0/8:*, *.office.example:443")
        XCTAssertEqual(tunnel.proxyCredentials?.user, "me")
        XCTAssertNoThrow(try tunnel.validateHead())
        let bad: [(String, String)] = [
            ("mode = \"socks4\"\nurl = \"http://h/t/{host}/{port}\"", "mode"),
            ("mode = \"socks5\"\nurl = \"http://h/t\"", "{host} and {port}"),
            ("url = \"http://h/t\"\nallow = [\"10.0.0.0/8:*\"]", "allow"),
            ("mode = \"socks5\"\nurl = \"http://h/t/{host}/{port}\"\nallow = [\"10.0.0.0/33:*\"]", "prefix"),
            ("mode = \"socks5\"\nurl = \"http://h/t/{host}/{port}\"\nproxy_user = \"me\"", "go together"),
        ]
        for (body, words) in bad {
            XCTAssertThrowsError(try TunnelsFile.parse("[[tunnels]]\nname = \"x\"\n\(body)\n", file: "t.toml"), body) {
                XCTAssertTrue("\($0)".contains(words), "\(body): \($0)")
            }
        }
    }
}
