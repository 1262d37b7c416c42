import Foundation
import PurrCore
import PurrTUI
import PurrTestSupport
import XCTest

/// The built `purr-tui` under tmux with one tunnel over two built `purr-server`s, both watched in
/// [[servers]]: the row's `2/2 up`, each connection's server, then the first server draining (SIGTERM
/// with a relay still on it) and gone: the row, the detail line, the Servers pane and the header show
/// each change, checked twice seconds apart after a key and after a mouse click.
final class SeveralServersTUITests: XCTestCase {
    let group = InProcessServer.group

    /// A built purr-server routing /echo to `target`, with an admin endpoint (token `adm`).
    func server(target: Int) throws -> (process: RunningProcess, port: Int, admin: Int) {
        let port = RunningProcess.freePort()
        let process = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(port)", "--route", "/echo=127.0.0.1:\(target)", "--admin-port", "0", "--admin-token", "adm",
                "--drain-timeout", "120",
            ])
        XCTAssertTrue(process.waitForOutput("admin on"), process.stderr)
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("admin on") })
        return (process, port, try XCTUnwrap(Int(line.split(separator: ":").last!)))
    }

    /// An echoed exchange through the tunnel, the socket left open.
    func echo(_ port: Int, seed: UInt64) throws -> BlockingSocket {
        let socket = try BlockingSocket(port: port, timeout: 20)
        let payload = TestKit.randomPayload(count: 8 * 1024, seed: seed)
        try socket.write(payload)
        XCTAssertEqual(try socket.read(exactly: payload.count), payload)
        return socket
    }

    func testTheRowConnectionsAndServersPaneFollowADrainingThenStoppedServer() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let a = try server(target: target.port)
        defer { a.process.stop() }
        let b = try server(target: target.port)
        defer { b.process.stop() }
        let listen = RunningProcess.freePort()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-servers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let config = home.appendingPathComponent("tunnels.toml").path
        try """
        [[tunnels]]
        name = "pair"
        url = ["http://127.0.0.1:\(a.port)/echo", "http://127.0.0.1:\(b.port)/echo"]
        listen = "127.0.0.1:\(listen)"
        autostart = true

        [[servers]]
        name = "alpha"
        admin_url = "http://127.0.0.1:\(a.admin)"
        token = "adm"

        [[servers]]
        name = "beta"
        admin_url = "http://127.0.0.1:\(b.admin)"
        token = "adm"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        let session = try TmuxSession(
            command: "\(binary) --config \(config)", width: 140, height: 40,
            environment: ["XDG_CONFIG_HOME": home.path, "TERM": "xterm-256color"])
        defer { session.stop() }
        let labelA = "127.0.0.1:\(a.port)"
        let labelB = "127.0.0.1:\(b.port)"
        func rows(_ screen: String) -> [Substring] { screen.split(separator: "\n") }
        /// The tunnel's row, its connections on `server`, a detail line `#N ... mark`.
        func row(_ screen: String, _ text: String) -> Bool { rows(screen).contains { $0.contains("pair") && $0.contains(text) } }
        func connections(_ screen: String, on label: String) -> Int {
            rows(screen).filter { $0.contains("relaying") && $0.contains(label) }.count
        }
        func detail(_ screen: String, _ number: String, _ mark: String) -> Bool {
            rows(screen).contains { $0.contains("│ \(number) ") && $0.contains(mark) }
        }
        /// `check` holds now, and still after two ticks of the header clock (the screen redrawn many times).
        func holdsTwice(after input: String, line: UInt = #line, _ check: @escaping (String) -> Bool) {
            XCTAssertTrue(session.waitUntil(timeout: 20, check), "\(input): \(session.screen())", line: line)
            for _ in 1...2 {
                let before = TUIEndToEndTests.clock(session.screen())
                XCTAssertTrue(
                    session.waitUntil(timeout: 5) { TUIEndToEndTests.clock($0) != before }, "\(input): the clock stands still",
                    line: line)
            }
            XCTAssertTrue(check(session.screen()), "\(input), seconds later: \(session.screen())", line: line)
        }

        XCTAssertTrue(session.waitFor("alpha: live  beta: live"), session.screen())
        XCTAssertTrue(session.waitUntil { row($0, "● listening") && row($0, "2/2 up") }, session.screen())
        XCTAssertTrue(session.waitUntil { detail($0, "#1", "● up") && detail($0, "#2", "● up") }, session.screen())

        // Failover: the first server takes the connection; the SERVER column says so.
        let first = try echo(listen, seed: 1)
        XCTAssertTrue(session.waitUntil { connections($0, on: labelA) == 1 }, "on the first server: \(session.screen())")

        // SIGTERM: the first server drains (its relay goes on); the next connection gets 503 there and
        // goes to the second at once.
        XCTAssertEqual(kill(a.process.pid, SIGTERM), 0)
        XCTAssertTrue(session.waitFor("alpha: draining"), "the header marks it: \(session.screen())")
        XCTAssertTrue(session.waitFor("◌ draining (503 to new)"), "the Servers pane too: \(session.screen())")
        let second = try echo(listen, seed: 2)
        try session.send("Tab")
        holdsTwice(after: "a key (Tab)") { screen in
            row(screen, "1/2 up ◌1") && detail(screen, "#1", "◌ draining") && detail(screen, "#2", "● up")
                && connections(screen, on: labelA) == 1 && connections(screen, on: labelB) == 1 && screen.contains("alpha: draining")
                && screen.contains("serves pair #2")
        }

        // A click in the Servers pane focuses it: its connections show, the marks stay.
        let pane = ScreenLayout.compute(width: 140, height: 40, tunnelCount: 1).servers
        try session.click(x: pane.x + 3, y: pane.y + 2)
        holdsTwice(after: "a click in the Servers pane") { screen in
            screen.contains("connections (1)") && row(screen, "1/2 up ◌1") && screen.contains("◌ draining (503 to new)")
        }

        // The relay on the draining server ends: it exits; its admin stream is down.
        first.close()
        XCTAssertNotNil(a.process.waitForExit(timeout: 20), "a drained server exits once its last relay ends")
        let third = try echo(listen, seed: 3)
        try session.send("Tab")
        holdsTwice(after: "a key (Tab) with the first server gone") { screen in
            screen.contains("alpha: down  beta: live") && screen.contains("✖ down, reconnecting") && row(screen, "1/2 up")
                && connections(screen, on: labelA) == 0 && connections(screen, on: labelB) == 2
        }
        second.close()
        third.close()
        try session.send("q")
        XCTAssertTrue(session.waitUntil { !$0.contains("Tunnels (") }, session.screen())
    }
}
