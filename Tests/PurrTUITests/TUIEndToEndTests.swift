import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The built `purr-tui` under tmux, against a real server, a real admin stream and real traffic.
final class TUIEndToEndTests: XCTestCase {
    let group = InProcessServer.group

    func testOpenRelayResizeAndQuit() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let admin = AdminServer(
            config: AdminConfig(listen: HostPort(host: "127.0.0.1", port: 0), token: "adm"), registry: server.registry, group: group,
            logger: InProcessServer.quietLogger)
        try await admin.start()
        let localPort = RunningProcess.freePort()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let config = home.appendingPathComponent("tunnels.toml").path
        try """
        [[tunnels]]
        name = "echo-tunnel"
        url = "http://127.0.0.1:\(server.port)/echo"
        listen = "127.0.0.1:\(localPort)"

        [[servers]]
        name = "local"
        admin_url = "http://127.0.0.1:\(admin.port)"
        token = "adm"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        let exitFile = home.appendingPathComponent("exit").path
        let session = try TmuxSession(
            command: "\(binary) --config \(config); echo $? > \(exitFile); sleep 30", width: 120, height: 30,
            environment: ["XDG_CONFIG_HOME": home.path, "TERM": "xterm-256color"])
        defer { session.stop() }

        XCTAssertTrue(session.waitFor("Tunnels (1)"), session.screen())
        XCTAssertTrue(session.waitFor("○ closed"), session.screen())
        XCTAssertTrue(session.waitFor("local: live"), "the admin stream is live: \(session.screen())")
        XCTAssertThrowsError(try BlockingSocket(port: localPort), "closed tunnels do not listen")

        try session.send("Enter")
        XCTAssertTrue(session.waitFor("● listening"), session.screen())
        let socket = try BlockingSocket(port: localPort)
        let payload = TestKit.randomPayload(count: 100 * 1024)
        try socket.write(payload)
        XCTAssertEqual(try socket.read(exactly: payload.count), payload)
        XCTAssertTrue(
            session.waitUntil { screen in
                screen.split(separator: "\n").contains { $0.contains("echo-tunnel") && $0.contains("100 KiB") && $0.contains("1/1") }
            }, session.screen())
        XCTAssertTrue(session.waitFor("relaying"), "the connection shows in the detail pane: \(session.screen())")
        XCTAssertTrue(session.waitFor("/echo"), "the server pane lists the route: \(session.screen())")

        try session.resize(width: 80, height: 24)
        XCTAssertTrue(
            session.waitUntil { screen in
                let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
                return lines.count >= 24 && lines.allSatisfy { $0.count <= 80 } && screen.contains("echo-tunnel")
                    && lines[23].contains("q quit")
            }, session.screen())
        try session.resize(width: 40, height: 10)
        XCTAssertTrue(session.waitFor("Terminal too small"), session.screen())
        try session.resize(width: 120, height: 30)
        XCTAssertTrue(session.waitFor("Tunnels (1)"), session.screen())

        try session.send("q")
        // The shell creates the file before it writes the status into it.
        XCTAssertTrue(TestKit.poll { (try? String(contentsOfFile: exitFile, encoding: .utf8))?.hasSuffix("\n") == true }, session.screen())
        XCTAssertEqual(try String(contentsOfFile: exitFile, encoding: .utf8), "0\n")
        XCTAssertEqual(try socket.readToEnd(), [], "quitting closed the tunnel's connections")
        XCTAssertThrowsError(try BlockingSocket(port: localPort), "and its listener")
        XCTAssertFalse(session.screen().contains("Tunnels ("), "the terminal is restored")
        await admin.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testDemoShowsLiveCountersWithoutAnyConfig() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        let session = try TmuxSession(
            command: "\(binary) --demo", width: 120, height: 30, environment: ["XDG_CONFIG_HOME": home.path, "NO_COLOR": "1"])
        defer { session.stop() }
        XCTAssertTrue(session.waitFor("Tunnels (4)"), session.screen())
        XCTAssertTrue(session.waitFor("demo: live"), session.screen())
        XCTAssertTrue(
            session.waitUntil { $0.split(separator: "\n").contains { $0.contains("legacy-db") && $0.contains("✖ failing") } },
            "the tunnel whose route is missing reads as failing: \(session.screen())")
        XCTAssertTrue(session.waitFor("404 no route for /db"), "the server's reason in the event log: \(session.screen())")
        XCTAssertTrue(
            session.waitUntil { screen in
                screen.split(separator: "\n").contains { $0.contains("video") && $0.contains("MiB/s") }
            }, "bytes are moving: \(session.screen())")
        try session.send("j", "j")
        XCTAssertTrue(session.waitFor("Connections: offsite · both ends"), "the slow hop, joined: \(session.screen())")
        try session.send("j")
        XCTAssertTrue(session.waitFor("last error: server answered 404 Not Found"), session.screen())
        try session.send("t")
        XCTAssertTrue(session.waitFor("theme stays mono"), "NO_COLOR keeps mono: \(session.screen())")
        try session.send("C-c")
        XCTAssertTrue(session.waitUntil { !$0.contains("Tunnels (") }, session.screen())
    }

    func testAVanishedTerminalEndsTheProgram() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-gone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        // exec: the pane's process is purr-tui itself.
        let session = try TmuxSession(command: "exec \(binary)", width: 100, height: 30, environment: ["XDG_CONFIG_HOME": home.path])
        defer { session.stop() }
        XCTAssertTrue(session.waitFor("Tunnels (0)"), session.screen())
        let tui = try session.panePID()
        // The terminal disappears at once (its server is killed), no orderly hang-up.
        kill(try session.serverPID(), SIGKILL)
        XCTAssertTrue(TestKit.poll(timeout: 10) { kill(tui, 0) != 0 }, "purr-tui must not outlive its terminal (pid \(tui))")
        if kill(tui, 0) == 0 { kill(tui, SIGKILL) }
    }

    func testBadThemeIsRefusedWithFileAndLine() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-theme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: "\(home.path)/purr/themes", withIntermediateDirectories: true)
        try "normal = default\nheader = ultraviolet\n".write(
            toFile: "\(home.path)/purr/themes/broken.theme", atomically: true, encoding: .utf8)
        let result = try RunningProcess.run("purr-tui", ["--theme", "broken"], environment: ["XDG_CONFIG_HOME": home.path])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(
            result.stderr,
            "purr-tui: error: \(home.path)/purr/themes/broken.theme:2: unknown colour 'ultraviolet' (expected a name like 'cyan' or 'bright-red', 0-255, or #rrggbb)\n"
        )
        let badConfig = try RunningProcess.run("purr-tui", ["--config", "/nonexistent/tunnels.toml"])
        XCTAssertEqual(badConfig.status, 2)
        XCTAssertTrue(badConfig.stderr.contains("/nonexistent/tunnels.toml: cannot read"))
    }
}
