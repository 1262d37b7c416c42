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

    /// A mouse report used to freeze the screen until the next key: ncurses read on, blocking, after a report
    /// its mask left out (a release, a drag, another button). Each kind of input is followed by two ticks of
    /// the header clock, with no key in between: a frozen screen never shows them.
    func testTheScreenKeepsRefreshingAfterMouseInput() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-mouse-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let config = home.appendingPathComponent("tunnels.toml").path
        // Closed tunnels: nothing listens and nothing connects.
        try ["alpha", "beta", "gamma"].map { "[[tunnels]]\nname = \"\($0)\"\nurl = \"http://127.0.0.1:9/\($0)\"\n" }
            .joined(separator: "\n").write(toFile: config, atomically: true, encoding: .utf8)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        let exitFile = home.appendingPathComponent("exit").path
        let session = try TmuxSession(
            command: "\(binary) --config \(config); echo $? > \(exitFile); sleep 30", width: 120, height: 30,
            environment: ["XDG_CONFIG_HOME": home.path, "TERM": "xterm-256color"])
        defer { session.stop() }
        XCTAssertTrue(session.waitFor("Connections: alpha"), session.screen())
        // Rows 3, 4, 5 (0-based) are alpha, beta, gamma; SGR reports count from 1.
        func report(_ button: Int, x: Int, y: Int, release: Bool = false) throws {
            try session.sendLiteral("\u{1B}[<\(button);\(x + 1);\(y + 1)\(release ? "m" : "M")")
        }
        func assertClockTicks(after input: String, line: UInt = #line) {
            for tick in 1...2 {
                let before = Self.clock(session.screen())
                XCTAssertNotNil(before, "\(input): the header shows a clock: \(session.screen())", line: line)
                // The clock shows seconds and the screen redraws every 100 ms: a live screen shows the next
                // second within about a second; the bound only ends a frozen one's wait.
                guard session.waitUntil(timeout: 5, { Self.clock($0) != before }) else {
                    return XCTFail("\(input): tick \(tick): the clock stood still at \(before ?? "?"): \(session.screen())", line: line)
                }
            }
        }

        try report(0, x: 10, y: 4)
        try report(0, x: 10, y: 4, release: true)
        XCTAssertTrue(session.waitFor("Connections: beta"), "the click selected beta: \(session.screen())")
        assertClockTicks(after: "a click (press, then release)")

        try report(65, x: 10, y: 4)
        XCTAssertTrue(session.waitFor("Connections: gamma"), "the wheel moved the selection down: \(session.screen())")
        assertClockTicks(after: "wheel down")
        try report(64, x: 10, y: 4)
        XCTAssertTrue(session.waitFor("Connections: alpha"), "and up: \(session.screen())")
        assertClockTicks(after: "wheel up")

        try report(0, x: 10, y: 5)
        XCTAssertTrue(session.waitFor("Connections: gamma"), session.screen())
        try report(32, x: 11, y: 4)
        try report(32, x: 12, y: 3)
        try report(0, x: 12, y: 3, release: true)
        assertClockTicks(after: "a drag from gamma to alpha")
        XCTAssertTrue(session.screen().contains("Connections: gamma"), "a drag is not a click: \(session.screen())")

        try report(2, x: 10, y: 4)
        try report(2, x: 10, y: 4, release: true)
        assertClockTicks(after: "a right click")

        try session.send("q")
        XCTAssertTrue(TestKit.poll { (try? String(contentsOfFile: exitFile, encoding: .utf8))?.hasSuffix("\n") == true }, session.screen())
        XCTAssertEqual(try String(contentsOfFile: exitFile, encoding: .utf8), "0\n")
    }

    /// The clock at the end of the header line (HH:MM:SS).
    static func clock(_ screen: String) -> String? {
        guard let header = screen.split(separator: "\n").first else { return nil }
        let text = header.trimmingCharacters(in: .whitespaces)
        let clock = String(text.suffix(8))
        guard clock.count == 8, clock.enumerated().allSatisfy({ [2, 5].contains($0.offset) ? $0.element == ":" : $0.element.isNumber })
        else { return nil }
        return clock
    }

    /// Without a terminal there is nothing to draw on: one line and exit 2, at once, instead of a silent wait.
    /// Asking for help, the version or completions needs no terminal and still works.
    func testWithoutATerminalItSaysSoAndExits() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-notty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        for arguments in [[], ["--demo"]] {
            let result = try RunningProcess.run("purr-tui", arguments, environment: ["XDG_CONFIG_HOME": home.path], timeout: 20)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr, "purr-tui: error: needs a terminal (stdin and stdout must be a tty)\n", "\(arguments)")
            XCTAssertEqual(result.stdout, "", "\(arguments): nothing drawn into the pipe")
        }
        let help = try RunningProcess.run("purr-tui", ["--help"], environment: ["XDG_CONFIG_HOME": home.path])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--demo"), help.stdout)
        let version = try RunningProcess.run("purr-tui", ["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.stdout, PurrVersion.current + "\n")
        let completions = try RunningProcess.run("purr-tui", ["--generate-completion-script", "bash"])
        XCTAssertEqual(completions.status, 0)
        XCTAssertTrue(completions.stdout.contains("purr-tui"), completions.stdout)
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
