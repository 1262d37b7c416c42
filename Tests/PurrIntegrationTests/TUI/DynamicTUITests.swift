import Foundation
import PurrClient
import PurrCore
import PurrTestSupport
import XCTest

/// A dynamic tunnel in the built `purr-tui` under tmux, against the built `purr-server` (a template
/// route): its row shows the mode, the Connections pane each connection's target, still there seconds
/// later; a tunnel added in the form with a mode and an allow list is saved and read back.
final class DynamicTUITests: XCTestCase {
    let group = InProcessServer.group

    func testDynamicRowConnectionTargetAndTheFormsModeRoundTrip() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, serverPort) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/t/{host}/{port}"
                target = "{host}:{port}"
                allow = ["127.0.0.1:*"]
                """)
        defer { server.stop() }
        let socksPort = RunningProcess.freePort()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-dyn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let config = home.appendingPathComponent("tunnels.toml").path
        try """
        [[tunnels]]
        name = "office"
        url = "http://127.0.0.1:\(serverPort)/t/{host}/{port}"
        listen = "127.0.0.1:\(socksPort)"
        mode = "socks5"
        allow = ["127.0.0.1:1-65535"]
        proxy_user = "alice"
        proxy_password = "s3cret"
        autostart = true
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        let session = try TmuxSession(
            command: "\(binary) --config \(config); sleep 30", width: 140, height: 34,
            environment: ["XDG_CONFIG_HOME": home.path, "TERM": "xterm-256color"])
        defer { session.stop() }

        XCTAssertTrue(session.waitFor("● listening"), session.screen())
        XCTAssertTrue(session.waitFor("socks5 …/t/{host}/{port}"), "the row shows the mode: \(session.screen())")

        // A real SOCKS5 conversation held open: the connection and its target stay on screen.
        let socket = try BlockingSocket(port: socksPort, timeout: 20)
        try socket.write([5, 1, 2])
        XCTAssertEqual(try socket.read(exactly: 2), [5, 2])
        try socket.write([1, 5] + Array("alice".utf8) + [6] + Array("s3cret".utf8))
        XCTAssertEqual(try socket.read(exactly: 2), [1, 0])
        try socket.write([5, 1, 0, 1, 127, 0, 0, 1, UInt8(target.port >> 8), UInt8(target.port & 0xFF)])
        XCTAssertEqual(try socket.read(exactly: 10).prefix(2), [5, 0])
        let payload = TestKit.randomPayload(count: 40 * 1024, seed: 25)
        try socket.write(payload)
        XCTAssertEqual(try socket.read(exactly: payload.count), payload)
        let shown = "127.0.0.1:\(target.port) "
        XCTAssertTrue(session.waitFor("TARGET"), session.screen())
        XCTAssertTrue(session.waitFor(shown), "the Connections pane names the target: \(session.screen())")
        XCTAssertTrue(session.waitFor("→ 127.0.0.1:\(target.port)"), "the event log names the target: \(session.screen())")
        let first = session.screen()
        // Seconds later (the screen redrawn many times over), the same connection, its target and the mode.
        XCTAssertTrue(session.waitUntil(timeout: 20) { $0 != first && Self.ageSeconds($0, row: shown) ?? 0 >= 2 }, session.screen())
        let second = session.screen()
        XCTAssertTrue(second.contains(shown) && second.contains("socks5 …/t/{host}/{port}"), second)
        XCTAssertTrue(second.contains("40.0 KiB"), "the bytes stay counted: \(second)")

        // Edit shows the mode and the allow list in the form; Esc leaves it.
        try session.send("e")
        XCTAssertTrue(session.waitFor("Edit tunnel"), session.screen())
        XCTAssertTrue(session.screen().contains("127.0.0.1:1-65535"), session.screen())
        try session.send("Escape")
        XCTAssertTrue(session.waitUntil { !$0.contains("Edit tunnel") }, session.screen())

        // Add an HTTP proxy tunnel with an allow list through the form.
        try session.send("a")
        XCTAssertTrue(session.waitFor("Add tunnel"), session.screen())
        try session.sendLiteral("web")
        try session.send("Tab")
        for _ in 0..<7 { try session.send("BSpace") }
        try session.sendLiteral("http://127.0.0.1:\(serverPort)/t/{host}/{port}")
        try session.send("Tab")
        try session.send("Tab")
        for _ in 0..<5 { try session.send("BSpace") }
        try session.sendLiteral("http-proxy")
        try session.send("Tab")
        try session.sendLiteral("127.0.0.1:80, *.office.internal:443")
        try session.send("Enter")
        XCTAssertTrue(session.waitFor("Tunnels (2)"), session.screen())
        XCTAssertTrue(session.waitFor("http-proxy …host}/{port}"), session.screen())

        let saved = try TunnelsFile.load(file: config)
        let office = try XCTUnwrap(saved.tunnels.first { $0.name == "office" })
        XCTAssertEqual(office.mode, .socks5)
        XCTAssertEqual(office.allow?.description, "127.0.0.1:1-65535")
        XCTAssertEqual(office.proxyCredentials, try ProxyCredentials(user: "alice", password: "s3cret"))
        let web = try XCTUnwrap(saved.tunnels.first { $0.name == "web" })
        XCTAssertEqual(web.mode, .httpProxy)
        XCTAssertEqual(web.allow?.description, "127.0.0.1:80, *.office.internal:443")
        XCTAssertEqual(web.url.path, "/t/{host}/{port}")
        XCTAssertEqual(web.proxyCredentials, nil)
        await target.stop()
    }

    /// The AGE cell (seconds) on the line that holds `row`, if it reads as seconds.
    static func ageSeconds(_ screen: String, row: String) -> Int? {
        guard let line = screen.split(separator: "\n").first(where: { $0.contains(row) }) else { return nil }
        let words = line.split(separator: " ")
        return words.lazy.compactMap { $0.hasSuffix("s") ? Int($0.dropLast()) : nil }.first
    }
}
