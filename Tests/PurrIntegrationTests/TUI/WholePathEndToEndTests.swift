import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// The built `purr-tui` under tmux (120x35) against the built `purr-server` with TLS on both its
/// listener and its admin endpoint (a private CA): both ends of a connection, a failing tunnel, the
/// event log, and the mouse.
final class WholePathEndToEndTests: XCTestCase {
    let group = InProcessServer.group

    func testBothEndsFailuresEventsAndMouseOverHTTPS() async throws {
        let certificates = try TestCertificates.make()
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let serverPort = RunningProcess.freePort()
        let server = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(serverPort)", "--route", "/echo=127.0.0.1:\(target.port)", "--tls-cert",
                certificates.certificateFile, "--tls-key", certificates.keyFile, "--admin-port", "0", "--admin-tls", "--admin-token", "adm",
            ])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("admin on"), server.stderr)
        let line = try XCTUnwrap(server.stdout.split(separator: "\n").first { $0.hasPrefix("admin on") })
        let adminPort = try XCTUnwrap(Int(line.split(separator: ":").last!))
        let echoPort = RunningProcess.freePort()
        let brokenPort = RunningProcess.freePort()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tui-path-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let config = home.appendingPathComponent("tunnels.toml").path
        try """
        [[tunnels]]
        name = "zeta-echo"
        url = "https://localhost:\(serverPort)/echo"
        listen = "127.0.0.1:\(echoPort)"
        ca_file = "\(certificates.caFile)"
        autostart = true

        [[tunnels]]
        name = "broken"
        url = "https://localhost:\(serverPort)/db"
        listen = "127.0.0.1:\(brokenPort)"
        ca_file = "\(certificates.caFile)"
        autostart = true

        [[servers]]
        name = "tls"
        admin_url = "https://localhost:\(adminPort)"
        token = "adm"
        ca_file = "\(certificates.caFile)"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        let session = try TmuxSession(
            command: "\(binary) --config \(config)", width: 120, height: 35,
            environment: ["XDG_CONFIG_HOME": home.path, "TERM": "xterm-256color"])
        defer { session.stop() }

        XCTAssertTrue(session.waitFor("tls: live"), "the admin stream over https with a private CA is live: \(session.screen())")
        XCTAssertTrue(session.waitUntil { $0.components(separatedBy: "● listening").count == 3 }, session.screen())

        // 3 MiB each way; the connection stays open and shows both ends' counts and the round trips.
        let socket = try BlockingSocket(port: echoPort, timeout: 20)
        let payload = TestKit.randomPayload(count: 3 << 20)
        let outcome = try Duplex.exchange(socket, payload: payload, expect: payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        XCTAssertTrue(
            session.waitUntil { screen in
                screen.split(separator: "\n").contains { row in
                    row.contains("relaying") && row.components(separatedBy: "3.0 MiB").count == 5
                        && row.components(separatedBy: "µs").count + row.components(separatedBy: " ms").count >= 4
                }
            }, "client sent/received, server in/out, and both RTTs: \(session.screen())")
        XCTAssertTrue(session.waitFor("Connections: zeta-echo · both ends"), session.screen())

        // A connection through the tunnel whose route does not exist: its row and the server's reason.
        let refused = try BlockingSocket(port: brokenPort)
        XCTAssertEqual(try refused.readToEnd(), [])
        XCTAssertTrue(
            session.waitUntil { $0.split(separator: "\n").contains { $0.contains("broken") && $0.contains("✖ failing") } }, session.screen()
        )
        XCTAssertTrue(
            session.waitUntil {
                $0.split(separator: "\n").contains { $0.contains("server failed") && $0.contains("404 no route for /db") }
            },
            "the event log shows the server's reason: \(session.screen())")
        XCTAssertTrue(session.waitFor("✖ broken: server answered 404"), "and the footer the client's: \(session.screen())")

        // The mouse: a click on the second row selects it; on the NAME header it sorts, again reverses.
        try session.click(x: 10, y: 4)
        XCTAssertTrue(session.waitFor("Connections: broken"), session.screen())
        try session.click(x: 3, y: 2)
        XCTAssertTrue(
            session.waitUntil { screen in
                let rows = screen.split(separator: "\n", omittingEmptySubsequences: false)
                return rows.count > 4 && rows[2].contains("NAME▲") && rows[3].contains("broken") && rows[4].contains("zeta-echo")
            }, session.screen())
        try session.click(x: 3, y: 2)
        XCTAssertTrue(
            session.waitUntil { screen in
                let rows = screen.split(separator: "\n", omittingEmptySubsequences: false)
                return rows.count > 4 && rows[2].contains("NAME▼") && rows[3].contains("zeta-echo")
            }, session.screen())
        XCTAssertTrue(session.waitFor("Connections: broken"), "the selection follows the tunnel, not the row: \(session.screen())")
        try session.send("q")
        XCTAssertTrue(session.waitUntil { !$0.contains("Tunnels (") }, session.screen())
        socket.close()
    }
}
