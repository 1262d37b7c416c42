import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

/// The client's real WebSocket (RFC 6455): `ws://` URLs and `upgrade = "websocket"` against our server,
/// websockify, the original Purr 101 (raw fallback) and hand-made servers (wrong accept, no pongs).
final class WebSocketClientTests: XCTestCase {
    let group = InProcessServer.group

    /// The port `purr connect` printed.
    func listeningPort(_ process: RunningProcess) throws -> Int {
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        return try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!))
    }

    func engineTunnel(_ url: String, configure: (inout TunnelConfig) -> Void = { _ in }) async throws -> (TunnelEngine, Tunnel) {
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        var config = TunnelConfig(name: "ws", url: try ServerURL(parsing: url))
        configure(&config)
        let tunnel = try engine.add(config)
        let state = await tunnel.open()
        XCTAssertEqual(state, .listening)
        return (engine, tunnel)
    }

    func testWsURLThroughPurrServer8MiBWithHalfClose() async throws {
        let target = try await TestTarget.start(.echo(banner: "HELLO\n"), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let transports = Mutex<[Transport?]>([])
        server.registry.addObserver { event in
            if event.event == .opened { transports.withLock { $0.append(event.connection.transport) } }
        }
        let process = try RunningProcess("purr", ["connect", "ws://127.0.0.1:\(server.port)/t"])
        defer { process.stop() }
        let port = try listeningPort(process)
        let payload = TestKit.randomPayload(count: 8 << 20, seed: 11)
        let socket = try BlockingSocket(port: port, timeout: 30)
        // Half-close travels as close frames: the app's EOF reaches the target, the echo's end comes back.
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedBytes, 6 + payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(Array("HELLO\n".utf8) + payload))
        XCTAssertTrue(process.waitForOutput(" close"))
        XCTAssertTrue(process.stderr.contains("reason=closed"), process.stderr)
        XCTAssertEqual(transports.withLock { $0 }, [.websocket])
        XCTAssertEqual(process.signal(SIGTERM), 0)
        await server.shutdown(drainTimeout: 0)
    }

    func testWssURLSpeaksWebSocketInsideTLS() async throws {
        let certificates = try TestCertificates.make()
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        var config = ServerConfig()
        config.listen = HostPort(host: "127.0.0.1", port: 0)
        config.routes = [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))]
        let tls = try ServerTLS(certificatePath: certificates.certificateFile, keyPath: certificates.keyFile)
        let server = PurrServer(config: config, group: group, logger: InProcessServer.quietLogger, tls: tls)
        try await server.start()
        let transports = Mutex<[Transport?]>([])
        server.registry.addObserver { event in
            if event.event == .opened { transports.withLock { $0.append(event.connection.transport) } }
        }
        let (engine, tunnel) = try await engineTunnel("wss://localhost:\(server.port)/t") { $0.caFile = certificates.caFile }
        let payload = TestKit.randomPayload(count: 1 << 20, seed: 14)
        let socket = try BlockingSocket(port: tunnel.snapshot.port!, timeout: 20)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        XCTAssertEqual(transports.withLock { $0 }, [.websocket])
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testStdioOverWebSocketRelaysAndHalfCloses() async throws {
        let target = try await TestTarget.start(.echo(banner: "SSH-2.0-Test\r\n"), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let process = try RunningProcess("purr", ["stdio", "ws://127.0.0.1:\(server.port)/t"])
        defer { process.stop() }
        let payload = TestKit.randomPayload(count: 1 << 20, seed: 13)
        let writer = process.stdinPipe.fileHandleForWriting
        try writer.write(contentsOf: Data(payload))
        try writer.close()
        XCTAssertEqual(process.waitForExit(timeout: 60), 0, process.stderr)
        let output = try Data(contentsOf: process.stdoutURL)
        XCTAssertEqual(output.count, 14 + payload.count)
        XCTAssertEqual(TestKit.sha256(Array(output.dropFirst(14))), TestKit.sha256(payload))
        await server.shutdown(drainTimeout: 0)
    }

    func testFallsBackToRawBytesOnTheOriginalPurr101() async throws {
        // The original server echoes the request's Upgrade value and knows nothing of Sec-WebSocket-Key.
        let original101 = String(decoding: try WireFixtures.originalServer101(), as: UTF8.self)
            .replacingOccurrences(of: "Upgrade: purr", with: "Upgrade: websocket")
        XCTAssertTrue(original101.contains("Upgrade: websocket"))
        let standIn = try OriginalServerStandIn(response101: Array(original101.utf8), banner: "SSH-2.0-Original\r\n")
        defer { standIn.stop() }
        let (engine, tunnel) = try await engineTunnel("http://127.0.0.1:\(standIn.port)/ssh") { $0.upgrade = .websocket }
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        XCTAssertEqual(String(decoding: try socket.read(exactly: 18), as: UTF8.self), "SSH-2.0-Original\r\n")
        try socket.write("echo me")
        XCTAssertEqual(try socket.read(exactly: 7), Array("echo me".utf8))
        let request = try XCTUnwrap(standIn.requests.first)
        for line in ["Upgrade: websocket", "Purr-Request: MEOW", "Purr-Version: 0.1.2", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: "]
        {
            XCTAssertTrue(request.contains(line + (line.hasSuffix(" ") ? "" : "\r\n")), "\(line) in \(request)")
        }
        await engine.shutdown()
    }

    func testAWrongAcceptIsRefusedInWords() async throws {
        let standIn = WebSocketStandIn(wrongAccept: true)
        defer { standIn.stop() }
        let (engine, tunnel) = try await engineTunnel("ws://127.0.0.1:\(standIn.port)/x")
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        XCTAssertEqual(try socket.readToEnd(), [])
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.failed == 1 })
        XCTAssertTrue(tunnel.snapshot.lastError?.contains("server answered 101 with Sec-WebSocket-Accept") ?? false, "\(tunnel.snapshot)")
        await engine.shutdown()
    }

    func testFramesAreMaskedAndPingsKeepTheTunnelAlive() async throws {
        let standIn = WebSocketStandIn(answerPings: true)
        defer { standIn.stop() }
        let (engine, tunnel) = try await engineTunnel("ws://127.0.0.1:\(standIn.port)/x") { $0.pingInterval = 0.05 }
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        try socket.write("first")
        XCTAssertEqual(try socket.read(exactly: 5), Array("first".utf8))
        XCTAssertTrue(TestKit.poll { standIn.pings >= 5 }, "pings every interval")
        try socket.write("still here")
        XCTAssertEqual(try socket.read(exactly: 10), Array("still here".utf8))
        XCTAssertEqual(standIn.unmaskedFrames, 0, "a client masks every frame")
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
    }

    func testAPongHeldBackByASlowAppIsNotAMissingPong() async throws {
        let flood = 32 << 20
        let standIn = WebSocketStandIn(answerPings: true, flood: flood)
        defer { standIn.stop() }
        let (engine, tunnel) = try await engineTunnel("ws://127.0.0.1:\(standIn.port)/x") { $0.pingInterval = 0.05 }
        let socket = try BlockingSocket(port: tunnel.snapshot.port!, timeout: 30)
        try socket.write("go")
        // The app reads nothing: the client stops reading the server, whose pong waits behind its data.
        // Wait until the server's writes have made no progress for half a second (ten intervals).
        var lastProgress = (bytes: -1, at: Date())
        let stalled = TestKit.poll(timeout: 20) {
            let now = standIn.floodSent
            if now != lastProgress.bytes { lastProgress = (now, Date()) }
            return Date().timeIntervalSince(lastProgress.at) >= 0.5
        }
        XCTAssertTrue(stalled, "the server's writes never stalled")
        XCTAssertLessThan(standIn.floodSent, flood, "backpressure held the server back")
        XCTAssertEqual(tunnel.snapshot.failed, 0, "a held-back pong is not a missing one: \(tunnel.snapshot.lastError ?? "")")
        var received = 0
        while received < flood + 2 {
            let chunk = try socket.read(max: 1 << 20)
            if chunk.isEmpty { break }
            received += chunk.count
        }
        XCTAssertEqual(received, flood + 2, "the flood and the echoed 'go', nothing lost")
        // The stand-in reads our pings only between its writes; by now it has counted them.
        XCTAssertTrue(TestKit.poll(timeout: 5) { standIn.pings >= 1 }, "pings were sent meanwhile")
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
    }

    func testAMissingPongEndsTheConnectionWithAReason() async throws {
        let standIn = WebSocketStandIn(answerPings: false)
        defer { standIn.stop() }
        let (engine, tunnel) = try await engineTunnel("ws://127.0.0.1:\(standIn.port)/x") { $0.pingInterval = 0.1 }
        let socket = try BlockingSocket(port: tunnel.snapshot.port!, timeout: 10)
        try socket.write("hi")
        XCTAssertEqual(try socket.read(exactly: 2), Array("hi".utf8))
        XCTAssertEqual(try socket.readToEnd(), [], "the app's connection ends")
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.failed == 1 })
        XCTAssertEqual(tunnel.snapshot.lastError, "no websocket pong within 0.1 s")
        await engine.shutdown()
    }

    func testConnectThroughWebsockify8MiBByteExact() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let websockifyPort = RunningProcess.freePort()
        let websockify = try RunningProcess(
            absolute: try PythonPeers.program("websockify"), ["127.0.0.1:\(websockifyPort)", "127.0.0.1:\(target.port)"])
        defer { websockify.stop() }
        XCTAssertTrue(TestKit.poll { (try? BlockingSocket(port: websockifyPort)) != nil }, websockify.stderr)
        let process = try RunningProcess("purr", ["connect", "ws://127.0.0.1:\(websockifyPort)/", "--listen", "127.0.0.1:0"])
        defer { process.stop() }
        let port = try listeningPort(process)
        let payload = TestKit.randomPayload(count: 8 << 20, seed: 12)
        let socket = try BlockingSocket(port: port, timeout: 30)
        // websockify closes the target when the WebSocket closes: read everything back before closing.
        let outcome = try Duplex.exchange(socket, payload: payload, expect: payload.count)
        XCTAssertEqual(outcome.receivedBytes, payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        socket.close()
        XCTAssertTrue(process.waitForOutput(" close"), process.stderr)
        XCTAssertFalse(process.stderr.contains("failed"), process.stderr)
    }

    func testSchemesAndPingIntervalParse() throws {
        let wss = try ServerURL(parsing: "wss://example.com/vnc?token=abc")
        XCTAssertEqual(wss.port, 443)
        XCTAssertTrue(wss.scheme.usesTLS && wss.scheme.isWebSocket)
        XCTAssertEqual(wss.redacted, "wss://example.com/vnc?token=REDACTED")
        XCTAssertEqual(TunnelConfig(name: "a", url: wss).upgradeRequest.upgrade, .websocket)
        let file = try TunnelsFile.parse(
            "[[tunnels]]\nname = \"a\"\nurl = \"ws://h:1/x\"\nping_interval = 5\n", file: "t.toml")
        XCTAssertEqual(file.tunnels.first?.pingInterval, 5)
        XCTAssertTrue(TunnelsFileWriter.render(file).contains("ping_interval = 5.0"))
        let bad = try RunningProcess.run("purr", ["connect", "ws://127.0.0.1:1/x", "--ping-interval", "-1"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--ping-interval"), bad.stderr)
    }
}
