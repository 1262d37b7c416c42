import Foundation
import PurrClient
import PurrCore
import PurrTestSupport
import XCTest

/// A reverse tunnel in the built `purr-tui` under tmux, against the built `purr-server`'s `[[reverse]]`
/// entry: its row shows the direction, the published name, held requests and the service it publishes,
/// exposed, still so seconds later and with a connection served through the published port counted.
final class ReverseTUITests: XCTestCase {
    func testReverseRowShowsDirectionNameHeldAndServed() throws {
        let body = "published from the TUI \(UUID().uuidString)\n"
        let origin = try HTTPOrigin("tui-rev", index: body)
        defer { origin.stop() }
        let (home, originPort) = (origin.directory, origin.port)
        let published = RunningProcess.freePort()
        let (server, serverPort) = try RunningProcess.reverseServer(token: "tui-rev-token", published: published)
        defer { server.stop() }
        let config = home.appendingPathComponent("tunnels.toml").path
        try """
        [[tunnels]]
        name = "lab"
        mode = "reverse"
        url = "http://127.0.0.1:\(serverPort)/rev/web"
        target = "127.0.0.1:\(originPort)"
        pool = 3
        token = "tui-rev-token"
        autostart = true
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-tui").path
        let session = try TmuxSession(
            command: "\(binary) --config \(config); sleep 30", width: 160, height: 34,
            environment: ["XDG_CONFIG_HOME": home.path, "TERM": "xterm-256color"])
        defer { session.stop() }

        XCTAssertTrue(session.waitFor("exposed"), session.screen())
        XCTAssertTrue(session.waitFor("← web h3"), "direction, name and held requests: \(session.screen())")
        XCTAssertTrue(session.screen().contains("127.0.0.1:\(originPort)"), "the published service: \(session.screen())")
        let first = session.screen()
        let firstSeen = Date()
        let result = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-sS", "-m", "10", "--noproxy", "*", "http://127.0.0.1:\(published)/index.html"])
        XCTAssertEqual(result.stdout, body, result.stderr + server.stderr)
        // Seconds later: still exposed, the held request used is replaced, the served connection counted.
        XCTAssertTrue(
            session.waitUntil(timeout: 20) {
                Date().timeIntervalSince(firstSeen) >= 2 && $0 != first && $0.contains("0/1") && $0.contains("← web h3")
            }, session.screen())
        let second = session.screen()
        XCTAssertTrue(second.contains("exposed") && second.contains("lab"), second)
    }
}
