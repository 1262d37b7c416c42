import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

/// Real WebSocket (RFC 6455) on the server: the Python `websockets` library drives the built
/// `purr-server`; frames a library refuses to send are made by hand (`RawWebSocket`).
final class WebSocketServerTests: XCTestCase {
    let group = InProcessServer.group

    func startServer(_ arguments: [String]) throws -> (RunningProcess, Int) {
        let port = RunningProcess.freePort()
        let process = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)"] + arguments)
        XCTAssertTrue(process.waitForOutput("listening"), process.stderr)
        return (process, port)
    }

    func testWebSocketsLibraryRelays8MiBByteExactWithPingAndClose() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try startServer(["--route", "/echo=127.0.0.1:\(target.port)"])
        defer { server.stop() }
        let result = try PythonPeers.webSocketClient("ws://127.0.0.1:\(port)/echo", "bulk", [8 << 20])
        XCTAssertEqual(result["exact"] as? Bool, true, "\(result)")
        XCTAssertEqual(result["bytes"] as? Int, 8 << 20)
        XCTAssertEqual(result["subprotocol"] as? String, "binary", "Sec-WebSocket-Protocol: binary is answered when offered")
        XCTAssertEqual(result["pong"] as? Bool, true)
        // The client closed first; the server answered once the echo target had finished too.
        XCTAssertEqual(result["close_code"] as? Int, 1000)
        XCTAssertEqual(result["closed_by_server"] as? Bool, false)
        XCTAssertTrue(server.waitForOutput(" close"))
        let close = try XCTUnwrap(server.stderr.split(separator: "\n").first { $0.hasSuffix(" close") })
        XCTAssertTrue(
            close.contains("transport=websocket") && close.contains("in=8388608") && close.contains("reason=closed"), String(close))
    }

    func testTargetEndBecomesACloseFrame() async throws {
        let target = try await TestTarget.start(.burstThenClose(bytes: 300_000, reset: false), group: group)
        let (server, port) = try startServer(["--route", "/burst=127.0.0.1:\(target.port)"])
        defer { server.stop() }
        let result = try PythonPeers.webSocketClient("ws://127.0.0.1:\(port)/burst", "receive")
        XCTAssertEqual(result["bytes"] as? Int, 300_000, "\(result)")
        XCTAssertEqual(result["close_code"] as? Int, 1000)
        XCTAssertEqual(result["closed_by_server"] as? Bool, true)
    }

    func testFragmentsAreReassembledAndOversizeClosesWith1009() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try startServer(["--route", "/echo=127.0.0.1:\(target.port)", "--ws-max-message", "4096"])
        defer { server.stop() }
        let url = "ws://127.0.0.1:\(port)/echo"
        let fragments = try PythonPeers.webSocketClient(url, "fragments", [3000, 3])
        XCTAssertEqual(fragments["exact"] as? Bool, true, "\(fragments)")
        let bigFrame = try PythonPeers.webSocketClient(url, "send", [5000])
        XCTAssertEqual(bigFrame["close_code"] as? Int, 1009, "\(bigFrame)")
        let bigMessage = try PythonPeers.webSocketClient(url, "fragments", [6000, 3])
        XCTAssertEqual(bigMessage["close_code"] as? Int, 1009, "\(bigMessage)")
        XCTAssertTrue(server.waitForOutput("websocket closed with 1009: message larger than 4096 bytes"), server.stderr)
        XCTAssertTrue(server.waitForOutput("websocket closed with 1009: frame larger than 4096 bytes"), server.stderr)
    }

    func testProtocolViolationsCloseWith1002() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try startServer(["--route", "/echo=127.0.0.1:\(target.port)"])
        defer { server.stop() }
        let cases: [(String, (RawWebSocket) throws -> Void)] = [
            ("unmasked client frame", { try $0.send(opcode: 0x2, Array("hi".utf8), mask: false) }),
            ("reserved bit set", { try $0.send(opcode: 0x2, Array("hi".utf8), rsv: 0b100) }),
            ("reserved opcode", { try $0.send(opcode: 0x3, Array("hi".utf8)) }),
            ("continuation frame outside a message", { try $0.send(opcode: 0x0, Array("hi".utf8)) }),
            ("fragmented control frame", { try $0.send(opcode: 0x9, [], fin: false) }),
        ]
        for (reason, misbehave) in cases {
            let ws = try RawWebSocket(port: port, path: "/echo")
            XCTAssertTrue(ws.head.hasPrefix("HTTP/1.1 101"), ws.head)
            // A good frame first: it is relayed before the bad one ends the connection.
            try ws.send(opcode: 0x2, Array("ok".utf8))
            XCTAssertEqual(try ws.readFrame().payload, Array("ok".utf8))
            try misbehave(ws)
            let (_, close) = try ws.readUntilClose()
            XCTAssertEqual(close.closeCode, 1002, reason)
            XCTAssertTrue(String(decoding: close.payload.dropFirst(2), as: UTF8.self).contains(reason), reason)
            XCTAssertEqual(try ws.socket.readToEnd(), [], "then the server hangs up")
            ws.socket.close()
            XCTAssertTrue(server.waitForOutput("websocket closed with 1002: \(reason)"), server.stderr)
        }
    }

    func testHandshakeAnswerAndPingFromARawClient() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try startServer(["--route", "/echo=127.0.0.1:\(target.port)"])
        defer { server.stop() }
        let ws = try RawWebSocket(port: port, path: "/echo")
        XCTAssertTrue(ws.head.contains("Sec-WebSocket-Accept: \(ws.expectedAccept)\r\n"), ws.head)
        XCTAssertFalse(ws.head.contains("Purr-Request"), "a WebSocket answer is a plain RFC 6455 101")
        XCTAssertFalse(ws.head.contains("Sec-WebSocket-Protocol"), "no subprotocol unless one was offered")
        try ws.send(opcode: 0x9, Array("are you there".utf8))
        XCTAssertEqual(try ws.readFrame(), .init(fin: true, opcode: 0xA, payload: Array("are you there".utf8)))
        // A text message is relayed as its bytes, as websockify's old clients send them.
        try ws.send(opcode: 0x1, Array("text".utf8))
        XCTAssertEqual(try ws.readFrame().payload, Array("text".utf8))
        // Our close frame: the target's side is shut; the echo ends, and the server answers.
        try ws.send(opcode: 0x8, [0x03, 0xE8])
        let (_, close) = try ws.readUntilClose()
        XCTAssertEqual(close.closeCode, 1000)
        XCTAssertEqual(try ws.socket.readToEnd(), [])
    }

    func testBadHandshakesAreRefusedWithOneLine() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try startServer(["--route", "/echo=127.0.0.1:\(target.port)"])
        defer { server.stop() }
        let base = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        let cases: [(String, Int, String)] = [
            (
                base + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 400,
                "unsupported Sec-WebSocket-Version '8'"
            ),
            (base + "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "Sec-WebSocket-Key must be 16 bytes in base64"),
            (base + "\r\n", 404, "not a Purr request: missing Purr-Request header"),
        ]
        for (raw, status, words) in cases {
            let socket = try BlockingSocket(port: port)
            try socket.write(raw)
            let answer = try socket.readResponse()
            XCTAssertEqual(answer.status, status, words)
            XCTAssertTrue(answer.body.contains(words), answer.body)
        }
    }

    func testBrowserOriginsMustBeListed() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try startServer(["--route", "/echo=127.0.0.1:\(target.port)", "--ws-origin", "https://app.example"])
        defer { server.stop() }
        let other = try RawWebSocket(port: port, path: "/echo", headers: "Origin: https://evil.example\r\n")
        XCTAssertTrue(other.head.hasPrefix("HTTP/1.1 403"), other.head)
        let listed = try RawWebSocket(port: port, path: "/echo", headers: "Origin: https://APP.example\r\n")
        XCTAssertTrue(listed.head.hasPrefix("HTTP/1.1 101"), listed.head)
        let program = try RawWebSocket(port: port, path: "/echo")
        XCTAssertTrue(program.head.hasPrefix("HTTP/1.1 101"), "a client without Origin is not a browser: \(program.head)")
        XCTAssertTrue(server.waitForOutput("WebSocket origin https://evil.example is not allowed (purr-server --ws-origin)"), server.stderr)
    }

    func testWebSocketSettingsInServerToml() throws {
        func load(_ text: String) throws -> ServerConfig {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("purr-ws-\(UUID().uuidString).toml").path
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return try ServerConfig.load(file: file)
        }
        let config = try load("ws_max_message = 65536\nws_origins = [\"https://a.example\", \"*\"]\n")
        XCTAssertEqual(config.webSocketMaxMessage, 65536)
        XCTAssertEqual(config.webSocketOrigins, ["https://a.example", "*"])
        XCTAssertThrowsError(try load("ws_max_message = 10\n")) { XCTAssertTrue("\($0)".contains("ws_max_message"), "\($0)") }
        XCTAssertThrowsError(try load("ws_origins = \"https://a.example\"\n")) { XCTAssertTrue("\($0)".contains("ws_origins"), "\($0)") }
        let bad = try RunningProcess.run("purr-server", ["--ws-max-message", "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--ws-max-message"), bad.stderr)
    }

    func testQueryTokenIsCheckedAndNeverLogged() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("purr-\(UUID().uuidString).toml").path
        try """
        [[routes]]
        path = "/vnc"
        target = "127.0.0.1:\(target.port)"
        token = "qu3ry-s3cret"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let (server, port) = try startServer(["--config", config, "--log-level", "debug"])
        defer { server.stop() }
        let good = try PythonPeers.webSocketClient("ws://127.0.0.1:\(port)/vnc?token=qu3ry-s3cret", "bulk", [1000])
        XCTAssertEqual(good["exact"] as? Bool, true, "\(good)")
        let wrong = try RawWebSocket(port: port, path: "/vnc?token=gu3ssed-t0ken")
        XCTAssertTrue(wrong.head.hasPrefix("HTTP/1.1 401"), wrong.head)
        let missing = try RawWebSocket(port: port, path: "/vnc")
        XCTAssertTrue(missing.head.hasPrefix("HTTP/1.1 401"), missing.head)
        let odd = try BlockingSocket(port: port)
        try odd.write("GET *?token=qu3ry-s3cret HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try odd.readResponse().status, 400)
        XCTAssertTrue(server.waitForOutput(" close"))
        XCTAssertTrue(server.waitForOutput("status=401"))
        XCTAssertTrue(server.waitForOutput("status=400"))
        XCTAssertFalse(server.stderr.contains("qu3ry-s3cret"), "a token must never be logged: \(server.stderr)")
        XCTAssertFalse(server.stderr.contains("gu3ssed-t0ken"), "a presented token must never be logged")
    }

    func testStatsAndLogsNameTheTransport() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port), token: "stats-t0ken")
        ])
        let seen = Mutex<[Transport?]>([])
        server.registry.addObserver { event in
            if event.event == .opened { seen.withLock { $0.append(event.connection.transport) } }
        }
        let port = server.port
        // The original protocol, and the original client's websocket compatibility mode: raw bytes after the 101.
        var open: [BlockingSocket] = []
        for upgrade in [UpgradeProtocol.purr, .websocket] {
            let socket = try BlockingSocket(port: port)
            open.append(socket)
            let (head, _) = try socket.upgrade(path: "/echo", port: port, token: "stats-t0ken", upgrade: upgrade)
            XCTAssertTrue(head.contains("Upgrade: \(upgrade.rawValue)\r\n") && !head.contains("Sec-WebSocket-Accept"), head)
            try socket.write("raw")
            XCTAssertEqual(try socket.read(exactly: 3), Array("raw".utf8))
        }
        let ws = try RawWebSocket(port: port, path: "/echo?token=stats-t0ken")
        try ws.send(opcode: 0x2, Array("framed".utf8))
        XCTAssertEqual(try ws.readFrame().payload, Array("framed".utf8))
        XCTAssertTrue(TestKit.poll { seen.withLock { $0.count } == 3 })
        XCTAssertEqual(seen.withLock { $0 }, [.purr, .websocketCompat, .websocket])
        let snapshot = server.registry.snapshot()
        XCTAssertEqual(snapshot.connections.compactMap(\.transport), [.purr, .websocketCompat, .websocket])
        XCTAssertEqual(snapshot.connections.map(\.route), ["/echo", "/echo", "/echo"], "the route, never the request target")
        let json = String(decoding: try AdminJSON.encoder().encode(snapshot), as: UTF8.self)
        XCTAssertTrue(json.contains("\"transport\":\"websocket-compat\""), json)
        XCTAssertFalse(json.contains("stats-t0ken"))
        for socket in open { socket.close() }
        await server.shutdown(drainTimeout: 0)
    }

    /// The raw-mode slow-reader test, with WebSocket frames between `purr connect ws://` and the server:
    /// backpressure stops the sender and neither process's memory grows with the bytes pushed.
    func testSlowReaderKeepsMemoryBoundedInWebSocketMode() async throws {
        let target = try await TestTarget.start(.sink(), group: group, pausedReading: true)
        let (server, port) = try startServer(["--route", "/sink=127.0.0.1:\(target.port)", "--log-level", "warning"])
        defer { server.stop() }
        let client = try RunningProcess("purr", ["connect", "ws://127.0.0.1:\(port)/sink", "--log-level", "warning"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = try XCTUnwrap(client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        let local = try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!))
        // Warm up so the baselines include the allocators' first arenas.
        let warm = try BlockingSocket(port: local)
        try warm.write(TestKit.randomPayload(count: 4 << 20))
        target.resumeReading()
        warm.shutdownWrite()
        XCTAssertTrue(TestKit.poll { target.sinkResults.count == 1 })
        target.readingPaused.store(true, ordering: .relaxed)
        let baseline = (
            server: try XCTUnwrap(TestKit.residentBytes(pid: server.pid)), client: try XCTUnwrap(TestKit.residentBytes(pid: client.pid))
        )

        let socket = try BlockingSocket(port: local, timeout: 60)
        let block = TestKit.randomPayload(count: 4 << 20, seed: 98)
        let blocks = 32  // 128 MiB: masking is slow in a debug build
        var expected = IncrementalHash()
        for _ in 0..<blocks { expected.update(block) }
        let written = Atomic<Int>(0)
        let sender = Thread {
            for _ in 0..<blocks {
                guard (try? socket.write(block)) != nil else { break }
                written.wrappingAdd(block.count, ordering: .relaxed)
            }
            socket.shutdownWrite()
        }
        sender.start()
        var peak = baseline
        func sample() {
            peak.server = max(peak.server, TestKit.residentBytes(pid: server.pid) ?? 0)
            peak.client = max(peak.client, TestKit.residentBytes(pid: client.pid) ?? 0)
        }
        var lastProgress = (bytes: -1, at: Date())
        let stalled = TestKit.poll(timeout: 30) {
            sample()
            let now = written.load(ordering: .relaxed)
            if now != lastProgress.bytes { lastProgress = (now, Date()) }
            return Date().timeIntervalSince(lastProgress.at) >= 0.5
        }
        XCTAssertTrue(stalled, "the sender never stalled: nothing stops it")
        XCTAssertLessThan(written.load(ordering: .relaxed), blocks * block.count, "backpressure stopped the sender before the end")
        target.resumeReading()
        let done = TestKit.poll(timeout: 180) {
            sample()
            return target.sinkResults.count == 2
        }
        XCTAssertTrue(done, "the 128 MiB never arrived")
        XCTAssertEqual(target.sinkResults.last?.bytes, blocks * block.count)
        XCTAssertEqual(target.sinkResults.last?.sha256, expected.finalize())
        let growth = "server RSS +\((peak.server - baseline.server) >> 10) KiB, client RSS +\((peak.client - baseline.client) >> 10) KiB"
        FileHandle.standardError.write(Data("[websocket slow reader] 128 MiB relayed; \(growth)\n".utf8))
        XCTAssertLessThan(peak.server - baseline.server, 32 << 20, "server RSS grew by \((peak.server - baseline.server) >> 20) MiB")
        XCTAssertLessThan(peak.client - baseline.client, 32 << 20, "client RSS grew by \((peak.client - baseline.client) >> 20) MiB")
    }
}
