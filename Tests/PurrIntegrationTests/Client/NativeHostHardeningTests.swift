import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// Issue 22, points 3 and 5: the built `purr native-host` under hostile frames and origins, and a token
/// that tries to smuggle a header.
final class NativeHostHardeningTests: XCTestCase {
    let group = InProcessServer.group
    typealias Host = NativeHostTests.Host

    static let popup = #""origin":"chrome-extension://\#(NativeHostManifest.chromeExtensionID)""#

    /// Oversized and malformed frames, and every origin that is not allowed, get an error reply; the host
    /// goes on answering, and a tunnel opened before stays byte-exact.
    func testHostileFramesAndOriginsLeaveTheHostAndItsTunnelsAlone() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let host = try Host(environment: ["XDG_CONFIG_HOME": try NativeHostTests.configHome(allowed: ["http://127.0.0.1:*"])])
        defer { host.process.stop() }
        let page = #""origin":"http://127.0.0.1:8000""#
        try host.send(#"{"src":1,"seq":1,\#(page),"cmd":"open","args":{"url":"http://127.0.0.1:\#(server.port)/t"}}"#)
        let port = try XCTUnwrap(try host.receive()["args"] as? Int)
        let socket = try BlockingSocket(port: port)
        var random = SeededRandom(state: 22)
        func roundTrip(_ count: Int) throws {
            let payload = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            try socket.write(payload)
            XCTAssertEqual(try socket.read(exactly: count), payload)
        }
        try roundTrip(64 << 10)

        // Frames: over the limit (answered, its 2 MiB skipped), an empty one, one that is not UTF-8.
        let oversized = 2 << 20
        try host.sendRaw(NativeMessageFramer.frame([UInt8](repeating: UInt8(ascii: "{"), count: oversized)))
        XCTAssertEqual(try host.receive()["error"] as? String, "message of \(oversized) bytes is over the 1048576-byte limit")
        try host.sendRaw([0, 0, 0, 0])
        XCTAssertEqual(try host.receive()["error"] as? String, "message is not valid JSON")
        try host.sendRaw([3, 0, 0, 0, 0xff, 0xfe, 0x00])
        XCTAssertEqual(try host.receive()["error"] as? String, "message is not valid JSON")
        try host.send(#"{"cmd":"status""#)
        XCTAssertEqual(try host.receive()["error"] as? String, "message is not valid JSON")

        // Origins fail closed.
        let refusals: [(String, String)] = [
            (
                #"{"src":1,"seq":2,"cmd":"status"}"#,
                "a message without an origin is refused (set [browser] legacy_extension = true in "
            ),
            (#"{"src":1,"seq":3,"cmd":"status","origin":42}"#, "origin must be a string"),
            (#"{"src":1,"seq":4,"cmd":"status","origin":null}"#, "origin must be a string"),
            (
                #"{"src":1,"seq":5,"cmd":"open","origin":"chrome-extension://someoneelse/","args":{"url":"http://127.0.0.1:1/t"}}"#,
                "origin 'chrome-extension://someoneelse/' is not the Purr extension"
            ),
            (
                #"{"src":1,"seq":6,"cmd":"status","origin":"moz-extension://0f1e/"}"#,
                "origin 'moz-extension://0f1e/' is not the Purr extension"
            ),
            (
                #"{"src":1,"seq":7,"cmd":"allow","origin":"chrome-extension://someoneelse","args":{"origin":"https://evil.example"}}"#,
                "'allow' is only for the Purr extension's popup"
            ),
            (
                #"{"src":1,"seq":8,"cmd":"revoke","args":{"origin":"http://127.0.0.1:*"}}"#,
                "'revoke' is only for the Purr extension's popup"
            ),
            (#"{"src":1,"seq":9,"cmd":"exit","origin":7}"#, "'exit' is only for the Purr extension's popup"),
            (#"{"src":1,"seq":10,"cmd":"close-tab",\#(page)}"#, "'close-tab' is only for the Purr extension's popup"),
        ]
        for (message, expected) in refusals {
            try host.send(message)
            let error = try host.receive()["error"] as? String ?? ""
            XCTAssertTrue(error.hasPrefix(expected), "\(message): \(error)")
        }
        try host.send(#"{\#(Self.popup),"seq":11,"cmd":"origins"}"#)
        XCTAssertEqual(
            (try host.receive()["args"] as? [String: Any])?["allowed"] as? [String], ["http://127.0.0.1:*"],
            "nothing was allowed or revoked")

        // Still answering, the tunnel still byte-exact and still the tab's.
        try host.send(#"{"src":1,"seq":12,\#(page),"cmd":"status"}"#)
        XCTAssertEqual(try host.receive()["args"] as? [Int], [port])
        try roundTrip(256 << 10)
        socket.close()
        await server.shutdown(drainTimeout: 0)
    }

    /// A stream of oversized frames is skipped in small chunks: the host's memory stays where it was.
    func testOversizedFramesKeepMemoryBounded() throws {
        let host = try Host(environment: ["XDG_CONFIG_HOME": try NativeHostTests.configHome(allowed: [])])
        defer { host.process.stop() }
        try host.send(#"{\#(Self.popup),"seq":0,"cmd":"status"}"#)
        XCTAssertEqual(try host.receive()["status"] as? String, "running")
        let before = try XCTUnwrap(TestKit.residentBytes(pid: host.process.pid))
        let size = 8 << 20
        let body = [UInt8](repeating: 0x41, count: size)
        let count = 32
        for _ in 0..<count {
            try host.sendRaw(NativeMessageFramer.frame(body))
            XCTAssertEqual(try host.receive(timeout: 30)["error"] as? String, "message of \(size) bytes is over the 1048576-byte limit")
        }
        try host.send(#"{\#(Self.popup),"seq":1,"cmd":"status"}"#)
        XCTAssertEqual(try host.receive()["status"] as? String, "running", "the host goes on after \(count * size >> 20) MiB skipped")
        let after = try XCTUnwrap(TestKit.residentBytes(pid: host.process.pid))
        let growth = after - before
        print("native host RSS: \(before >> 10) KiB before, \(after >> 10) KiB after \(count) frames of \(size >> 20) MiB")
        XCTAssertLessThan(growth, 8 << 20, "skipped frames are not held: \(before) -> \(after)")
    }

    /// `open` with a token that carries CR LF and a header: an error reply, and the server gets no request;
    /// the next, good `open` is the first connection the server ever sees.
    func testTokenWithLineBreakIsRefusedAndNothingIsSent() throws {
        let listener = LoopbackListener.open()
        defer { closeListener(listener.fd) }
        let host = try Host(environment: ["XDG_CONFIG_HOME": try NativeHostTests.configHome(allowed: ["http://127.0.0.1:*"])])
        defer { host.process.stop() }
        let page = #""origin":"http://127.0.0.1:8000""#
        let base = "http://127.0.0.1:\(listener.port)/t"
        for token in ["abc%0D%0AX-Injected:%20yes", "abc%0AX-Injected:%20yes", "a%20b", "abc%00", "%E2%82%AC"] {
            try host.send(#"{"src":1,"seq":1,\#(page),"cmd":"open","args":{"url":"\#(base)?token=\#(token)"}}"#)
            XCTAssertEqual(try host.receive()["error"] as? String, "args.url: token: not a valid token (token68)", token)
        }
        try host.send(#"{"src":1,"seq":2,\#(page),"cmd":"open","args":{"url":"\#(base)?token=good.t0ken~"}}"#)
        let port = try XCTUnwrap(try host.receive()["args"] as? Int)
        let app = try BlockingSocket(port: port)
        defer { app.close() }
        let accepted = try XCTUnwrap(Self.accept(listener.fd, within: 10), "the good open reaches the server")
        let server = BlockingSocket(adopting: accepted)
        defer { server.close() }
        let head = try server.readHead().head
        XCTAssertTrue(head.contains("\r\nAuthorization: Bearer good.t0ken~\r\n"), head)
        XCTAssertFalse(head.contains("X-Injected"), head)
    }

    /// Behind every source's check, the client refuses a bad head itself when it builds the request
    /// (`RequestBytes`): a tunnel config built in code with a smuggling token connects to the server and
    /// sends not one byte, and says which value was wrong.
    func testThePipelineRefusesABadHeadThatGotPastTheSources() async throws {
        let listener = LoopbackListener.open()
        defer { closeListener(listener.fd) }
        let engine = TunnelEngine(group: group)
        var config = TunnelConfig(
            name: "bad", url: try ServerURL(parsing: "http://127.0.0.1:\(listener.port)/t"), token: "abc\r\nX-Injected: yes")
        XCTAssertThrowsError(try config.validateHead())
        config.earlyData = false
        let tunnel = try engine.add(config)
        let state = await tunnel.open()
        XCTAssertEqual(state, .listening)
        let port = try XCTUnwrap(tunnel.snapshot.port)
        let app = try BlockingSocket(port: port)
        defer { app.close() }
        try app.write("hello")
        let accepted = try XCTUnwrap(Self.accept(listener.fd, within: 10))
        let server = BlockingSocket(adopting: accepted, timeout: 10)
        defer { server.close() }
        XCTAssertEqual(try server.readToEnd(), [], "not one byte of the request")
        XCTAssertEqual((try? app.readToEnd()) ?? [], [], "the app's connection is closed (or reset), nothing relayed")
        var lastError = ""
        XCTAssertTrue(
            TestKit.poll {
                lastError = tunnel.snapshot.lastError ?? ""
                return !lastError.isEmpty
            })
        XCTAssertTrue(lastError.contains("cannot send the request: token"), lastError)

        // Header names and values, and paths, the same way.
        for bad in [
            TunnelConfig(
                name: "h", url: try ServerURL(parsing: "http://127.0.0.1:\(listener.port)/t"),
                headers: [TunnelConfig.Header(name: "X-A", value: "1\r\nX-Injected: yes")]),
            TunnelConfig(
                name: "n", url: try ServerURL(parsing: "http://127.0.0.1:\(listener.port)/t"),
                headers: [TunnelConfig.Header(name: "X A", value: "1")]),
        ] {
            XCTAssertThrowsError(try bad.validateHead())
            var bad = bad
            bad.earlyData = false
            let other = try engine.add(bad)
            let opened = await other.open()
            XCTAssertEqual(opened, .listening)
            let client = try BlockingSocket(port: try XCTUnwrap(other.snapshot.port))
            let fd = try XCTUnwrap(Self.accept(listener.fd, within: 10))
            let peer = BlockingSocket(adopting: fd, timeout: 10)
            XCTAssertEqual(try peer.readToEnd(), [], bad.name)
            peer.close()
            client.close()
        }
        await engine.shutdown()
    }

    /// A connection accepted within `seconds` (bounded by `poll`), or nil.
    static func accept(_ fd: Int32, within seconds: Double) -> Int32? {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(seconds * 1000)) == 1 else { return nil }
        let accepted = Glibc.accept(fd, nil, nil)
        return accepted >= 0 ? accepted : nil
    }
}

private func closeListener(_ fd: Int32) {
    _ = Glibc.close(fd)
}
