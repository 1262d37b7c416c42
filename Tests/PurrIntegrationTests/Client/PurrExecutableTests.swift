import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The built `purr` binary against a real purr-server (in-process) and real targets.
final class PurrExecutableTests: XCTestCase {
    let group = InProcessServer.group

    func echoServer(banner: String? = nil) async throws -> (PurrServer, TestTarget) {
        let target = try await TestTarget.start(.echo(banner: banner), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        return (server, target)
    }

    /// The port `purr connect` printed.
    func listeningPort(_ process: RunningProcess) throws -> Int {
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        return try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!))
    }

    func testConnect64MiBBothWaysThenSignal() async throws {
        let (server, _) = try await echoServer()
        let process = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(server.port)/t"])
        let port = try listeningPort(process)
        let payload = TestKit.randomPayload(count: 64 << 20, seed: 3)
        let socket = try BlockingSocket(port: port, timeout: 30)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedBytes, payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        XCTAssertTrue(process.waitForOutput(" close"))
        XCTAssertEqual(process.signal(SIGTERM), 0)
        XCTAssertTrue(process.stderr.contains("up=67108864") && process.stderr.contains("down=67108864"), process.stderr)
        XCTAssertThrowsError(try BlockingSocket(port: port), "the listener is gone")
        await server.shutdown(drainTimeout: 0)
    }

    func testConnectHalfCloseAndServerSpeaksFirst() async throws {
        let (server, _) = try await echoServer(banner: "HELLO\n")
        let process = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(server.port)/t", "--listen", "localhost:0"])
        let port = try listeningPort(process)
        let socket = try BlockingSocket(host: "::1", port: port)
        try socket.write("bye")
        socket.shutdownWrite()
        XCTAssertEqual(String(decoding: try socket.readToEnd(), as: UTF8.self), "HELLO\nbye")
        XCTAssertEqual(process.signal(SIGINT), 0)
        await server.shutdown(drainTimeout: 0)
    }

    func testConnectReportsAFailingRouteAndKeepsListening() async throws {
        let (server, _) = try await echoServer()
        let process = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(server.port)/missing"])
        let port = try listeningPort(process)
        let socket = try BlockingSocket(port: port)
        XCTAssertEqual(try socket.readToEnd(), [])
        XCTAssertTrue(process.waitForOutput("reason=server answered 404 Not Found: no route for /missing"), process.stderr)
        XCTAssertNoThrow(try BlockingSocket(port: port), "still listening")
        XCTAssertEqual(process.signal(SIGTERM), 0)
        await server.shutdown(drainTimeout: 0)
    }

    func testUpOpensAutostartOrNamedTunnels() async throws {
        let (server, _) = try await echoServer()
        let portA = RunningProcess.freePort()
        let portB = RunningProcess.freePort()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tunnels-\(UUID().uuidString).toml").path
        try """
        [[tunnels]]
        name = "a"
        url = "http://127.0.0.1:\(server.port)/t"
        listen = "127.0.0.1:\(portA)"
        autostart = true

        [[tunnels]]
        name = "b"
        url = "http://127.0.0.1:\(server.port)/t"
        listen = "127.0.0.1:\(portB)"
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let auto = try RunningProcess("purr", ["up", "--config", file])
        XCTAssertTrue(auto.waitForOutput("a: listening on 127.0.0.1:\(portA)"), auto.stdout + auto.stderr)
        let socket = try BlockingSocket(port: portA)
        try socket.write("up")
        XCTAssertEqual(try socket.read(exactly: 2), Array("up".utf8))
        XCTAssertThrowsError(try BlockingSocket(port: portB), "b is not autostart")
        XCTAssertEqual(auto.signal(SIGTERM), 0)

        let named = try RunningProcess("purr", ["up", "--config", file, "b"])
        XCTAssertTrue(named.waitForOutput("b: listening on 127.0.0.1:\(portB)"))
        XCTAssertEqual(named.signal(SIGTERM), 0)

        let missing = try RunningProcess.run("purr", ["up", "--config", file, "zzz"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderr, "purr: error: \(file): no tunnel named 'zzz'\n")
        await server.shutdown(drainTimeout: 0)
    }

    func testStdioRelaysAndHalfClosesOnEOF() async throws {
        let (server, _) = try await echoServer(banner: "SSH-2.0-Test\r\n")
        let process = try RunningProcess("purr", ["stdio", "http://127.0.0.1:\(server.port)/t"])
        let payload = TestKit.randomPayload(count: 4 << 20, seed: 11)
        let writer = process.stdinPipe.fileHandleForWriting
        try writer.write(contentsOf: Data(payload))
        try writer.close()
        XCTAssertEqual(process.waitForExit(timeout: 30), 0, process.stderr)
        let output = try Data(contentsOf: process.stdoutURL)
        XCTAssertEqual(output.count, 14 + payload.count)
        XCTAssertEqual(String(decoding: output.prefix(14), as: UTF8.self), "SSH-2.0-Test\r\n")
        XCTAssertEqual(TestKit.sha256(Array(output.dropFirst(14))), TestKit.sha256(payload))
        await server.shutdown(drainTimeout: 0)
    }

    func testStdioFailureIsOneLine() async throws {
        let (server, _) = try await echoServer()
        let result = try RunningProcess.run("purr", ["stdio", "http://127.0.0.1:\(server.port)/nope"])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "purr: http://127.0.0.1:\(server.port)/nope: server answered 404 Not Found: no route for /nope\n")
        XCTAssertEqual(result.stdout, "")
        await server.shutdown(drainTimeout: 0)
    }

    func testBadArgumentsExitTwoWithOneLine() throws {
        let cases: [([String], String)] = [
            (["connect", "nourl"], "URL: 'nourl': expected a URL"),
            (["connect", "http://x/", "--listen", "nowhere"], "--listen: 'nowhere': expected HOST:PORT"),
            (["connect", "http://x/", "-H", "broken"], "-H: header 'broken': expected 'Name: value'"),
            (["connect", "http://x/", "--proxy", "socks5://p:1"], "--proxy: proxy 'socks5://p:1': unsupported scheme"),
            (["stdio"], "Missing expected argument '<url>'"),
            (["frobnicate"], "Unexpected argument 'frobnicate'"),
            (["up", "--config", "/nonexistent.toml"], "/nonexistent.toml: cannot read"),
            (["native-host", "--manifest", "safari"], "--manifest: 'safari' is not chrome, chromium or firefox"),
        ]
        for (arguments, expected) in cases {
            let result = try RunningProcess.run("purr", arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        for command in [[], ["connect"], ["up"], ["stdio"], ["native-host"]] {
            let help = try RunningProcess.run("purr", command + ["--help"])
            XCTAssertEqual(help.status, 0, "\(command)")
            XCTAssertTrue(help.stdout.contains("USAGE"), "\(command)")
        }
    }
}
