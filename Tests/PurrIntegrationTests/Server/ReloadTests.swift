import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// `kill -HUP purr-server`: the file is read again for new connections; live relays keep going.
final class ReloadTests: XCTestCase {
    let group = InProcessServer.group

    func configText(routes: [(path: String, port: Int, token: String?)], adminPort: Int, extra: String = "") -> String {
        var text = "log_level = \"info\"\n\(extra)\n[admin]\nport = \(adminPort)\n"
        for route in routes {
            text += "\n[[routes]]\npath = \"\(route.path)\"\ntarget = \"127.0.0.1:\(route.port)\"\n"
            if let token = route.token { text += "token = \"\(token)\"\n" }
        }
        return text
    }

    func get(_ port: Int, _ path: String) throws -> String {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return try socket.readResponse().body
    }

    func generation(_ adminPort: Int) throws -> Int? {
        let data = Data(try get(adminPort, "/stats").utf8)
        return try AdminJSON.decoder().decode(StatsSnapshot.self, from: data).config?.generation
    }

    /// Opens a relay and checks it echoes; returns it open.
    func openRelay(_ port: Int, _ path: String, token: String?) throws -> BlockingSocket {
        let socket = try BlockingSocket(port: port)
        let (head, _) = try socket.upgrade(path: path, port: port, token: token)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), "\(path): \(head)")
        try assertEchoes(socket)
        return socket
    }

    func assertEchoes(_ socket: BlockingSocket, file: StaticString = #filePath, line: UInt = #line) throws {
        let payload = TestKit.randomPayload(count: 4096, seed: UInt64.random(in: 1...UInt64.max))
        try socket.write(payload)
        XCTAssertEqual(try socket.read(exactly: payload.count), payload, file: file, line: line)
    }

    func status(_ port: Int, _ path: String, token: String?) throws -> String {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        let (head, _) = try socket.upgrade(path: path, port: port, token: token)
        return String(head.prefix(12))
    }

    func testHangUpReloadsRoutesAndTokensWithoutCuttingLiveRelays() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        defer { Task { await target.stop() } }
        let adminPort = RunningProcess.freePort()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("purr-reload-\(UUID().uuidString).toml").path
        try configText(routes: [("/a", target.port, "t0k3n-one"), ("/keep", target.port, nil)], adminPort: adminPort)
            .write(toFile: file, atomically: true, encoding: .utf8)
        let port = RunningProcess.freePort()
        let server = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)", "--config", file])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("admin on"), server.stderr)
        XCTAssertEqual(try generation(adminPort), 1)

        let onA = try openRelay(port, "/a", token: "t0k3n-one")
        // /a removed, /b added, /keep's token changed, log level down to warning.
        try configText(routes: [("/b", target.port, nil), ("/keep", target.port, "t0k3n-two")], adminPort: adminPort)
            .replacingOccurrences(of: "log_level = \"info\"", with: "log_level = \"warning\"")
            .write(toFile: file, atomically: true, encoding: .utf8)
        kill(server.pid, SIGHUP)
        XCTAssertTrue(TestKit.poll { (try? self.generation(adminPort)) == 2 }, server.stderr)
        XCTAssertTrue(server.process.isRunning, "SIGHUP must not end the server")
        // Log lines leave through the log queue's writer thread: wait for them.
        XCTAssertTrue(server.waitForOutput("config reloaded"), server.stderr)

        try assertEchoes(onA)  // its route is gone, the relay is not
        XCTAssertEqual(try status(port, "/a", token: "t0k3n-one"), "HTTP/1.1 404")
        XCTAssertEqual(try status(port, "/keep", token: nil), "HTTP/1.1 401")
        let onB = try openRelay(port, "/b", token: nil)
        let onKeep = try openRelay(port, "/keep", token: "t0k3n-two")
        let opens = server.stderr.split(separator: "\n").filter { $0.hasSuffix("] open") }
        XCTAssertEqual(opens.count, 1, "log level warning after the reload: only the first relay's open line")

        // A broken file: the old configuration stays, one line names the file and the key.
        try configText(routes: [("/b", target.port, nil)], adminPort: adminPort)
            .replacingOccurrences(of: "127.0.0.1:\(target.port)", with: "nowhere")
            .write(toFile: file, atomically: true, encoding: .utf8)
        kill(server.pid, SIGHUP)
        XCTAssertTrue(
            TestKit.poll { ((try? self.get(adminPort, "/metrics")) ?? "").contains("purr_config_reloads_total{result=\"failed\"} 1") })
        XCTAssertTrue(server.waitForOutput("config reload failed"), server.stderr)
        let failures = server.stderr.split(separator: "\n").filter { $0.contains("config reload failed") }
        XCTAssertEqual(failures.count, 1, server.stderr)
        XCTAssertTrue(failures.first?.contains("\(file): routes[0].target: 'nowhere': expected HOST:PORT") ?? false, server.stderr)
        XCTAssertEqual(try generation(adminPort), 2)
        XCTAssertTrue(try get(adminPort, "/metrics").contains("purr_config_reloads_total{result=\"ok\"} 1"))
        XCTAssertEqual(try status(port, "/keep", token: "t0k3n-two"), "HTTP/1.1 101")
        for socket in [onA, onB, onKeep] {
            try assertEchoes(socket)
            socket.close()
        }
        XCTAssertFalse(server.stderr.contains("t0k3n"), "tokens are never logged")
        XCTAssertEqual(server.signal(SIGTERM), 0)
    }

    func testDropRemovedClosesRelaysThatLostTheirRoute() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        defer { Task { await target.stop() } }
        let adminPort = RunningProcess.freePort()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("purr-reload-\(UUID().uuidString).toml").path
        let routes: [(path: String, port: Int, token: String?)] = [
            ("/gone", target.port, nil), ("/stay", target.port, "s"), ("/rekey", target.port, "old"),
        ]
        try configText(routes: routes, adminPort: adminPort).write(toFile: file, atomically: true, encoding: .utf8)
        let port = RunningProcess.freePort()
        let server = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)", "--config", file, "--drop-removed"])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("admin on"), server.stderr)
        let gone = try openRelay(port, "/gone", token: nil)
        let stay = try openRelay(port, "/stay", token: "s")
        let rekey = try openRelay(port, "/rekey", token: "old")
        try configText(routes: [("/stay", target.port, "s"), ("/rekey", target.port, "new")], adminPort: adminPort)
            .write(toFile: file, atomically: true, encoding: .utf8)
        kill(server.pid, SIGHUP)
        XCTAssertTrue(TestKit.poll { (try? self.generation(adminPort)) == 2 }, server.stderr)
        XCTAssertEqual(try gone.readToEnd(), [], "a relay whose route was removed is closed")
        XCTAssertEqual(try rekey.readToEnd(), [], "a relay whose route's token changed is closed")
        try assertEchoes(stay)
        XCTAssertTrue(
            TestKit.poll { server.stderr.contains("dropped=2") || server.stderr.contains("dropped: 2") }, server.stderr)
        for socket in [gone, stay, rekey] { socket.close() }
        XCTAssertEqual(server.signal(SIGTERM), 0)
    }

    func testHangUpWithoutAConfigFileKeepsRunning() throws {
        let port = RunningProcess.freePort()
        let server = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)", "--route", "/x=127.0.0.1:1"])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening on"), server.stderr)
        kill(server.pid, SIGHUP)
        XCTAssertTrue(server.waitForOutput("config reloaded"), server.stderr)
        XCTAssertTrue(server.process.isRunning)
        XCTAssertEqual(server.signal(SIGTERM), 0)
    }
}
