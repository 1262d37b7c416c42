import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The server process killed under live tunnels: the client notices, counts, and recovers.
final class ServerFaultTests: XCTestCase {
    let group = InProcessServer.group

    func testServerKilledWithTunnelsActive() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let port = RunningProcess.freePort()
        let arguments = ["--listen", "127.0.0.1:\(port)", "--route", "/t=127.0.0.1:\(target.port)"]
        let first = try RunningProcess("purr-server", arguments)
        XCTAssertTrue(first.waitForOutput("listening on"))
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(TunnelConfig(name: "k", url: try ServerURL(parsing: "http://127.0.0.1:\(port)/t")))
        await tunnel.open()
        let local = tunnel.snapshot.port!
        var sockets: [BlockingSocket] = []
        for index in 0..<3 {
            let socket = try BlockingSocket(port: local, timeout: 5)
            try socket.write("tunnel \(index)")
            _ = try socket.read(exactly: 8)
            sockets.append(socket)
        }
        kill(first.pid, SIGKILL)
        _ = first.waitForExit()
        for socket in sockets {
            // EOF or a reset, within the socket's 5 s read timeout (a hang would throw "timed out").
            do {
                let rest = try socket.readToEnd()
                XCTAssertEqual(rest, [])
            } catch {
                XCTAssertFalse("\(error)".contains("timed out"), "\(error)")
            }
            socket.close()  // as ssh would on EOF; the relay is then done in both directions
        }
        XCTAssertTrue(TestKit.poll(timeout: 5) { tunnel.snapshot.active == 0 }, "every relay noticed the dead server")
        let whileDown = try BlockingSocket(port: local)
        XCTAssertEqual(try whileDown.readToEnd(), [])
        XCTAssertTrue(
            TestKit.poll { tunnel.snapshot.lastError == "connection refused by 127.0.0.1:\(port)" }, tunnel.snapshot.lastError ?? "")
        XCTAssertGreaterThanOrEqual(tunnel.snapshot.failed, 1)
        XCTAssertEqual(tunnel.snapshot.state, .listening, "the tunnel keeps listening")

        let second = try RunningProcess("purr-server", arguments)
        defer { second.stop() }
        XCTAssertTrue(second.waitForOutput("listening on"))
        let again = try BlockingSocket(port: local)
        try again.write("back")
        XCTAssertEqual(try again.read(exactly: 4), Array("back".utf8), "new connections succeed once it is back")
        await engine.shutdown()
    }
}
