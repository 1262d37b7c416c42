import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// `kill -HUP` on `purr up`: the tunnels file is read again; unchanged tunnels keep their connections.
final class UpReloadTests: XCTestCase {
    let group = InProcessServer.group

    func tunnel(_ name: String, port: Int, server: Int, autostart: Bool = true, idle: Int? = nil) -> String {
        var text = "[[tunnels]]\nname = \"\(name)\"\nurl = \"http://127.0.0.1:\(server)/t\"\nlisten = \"127.0.0.1:\(port)\"\n"
        text += "autostart = \(autostart)\n"
        if let idle { text += "idle_timeout = \(idle)\n" }
        return text + "\n"
    }

    func echoes(_ socket: BlockingSocket) throws -> Bool {
        try socket.write("ping")
        return try socket.read(exactly: 4) == Array("ping".utf8)
    }

    func testHangUpReopensChangedKeepsUnchangedClosesRemovedOpensNew() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let (keep, change, drop, add) = (
            RunningProcess.freePort(), RunningProcess.freePort(), RunningProcess.freePort(), RunningProcess.freePort()
        )
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tunnels-\(UUID().uuidString).toml").path
        try
            (tunnel("keep", port: keep, server: server.port) + tunnel("change", port: change, server: server.port)
            + tunnel("drop", port: drop, server: server.port) + tunnel("add", port: add, server: server.port, autostart: false))
            .write(toFile: file, atomically: true, encoding: .utf8)
        let up = try RunningProcess("purr", ["up", "--config", file])
        defer { up.stop() }
        XCTAssertTrue(up.waitForOutput("drop: listening"), up.stderr)
        let onKeep = try BlockingSocket(port: keep)
        XCTAssertTrue(try echoes(onKeep))
        let onChange = try BlockingSocket(port: change)
        XCTAssertTrue(try echoes(onChange))

        try
            (tunnel("keep", port: keep, server: server.port) + tunnel("change", port: change, server: server.port, idle: 600)
            + tunnel("add", port: add, server: server.port))
            .write(toFile: file, atomically: true, encoding: .utf8)
        kill(up.pid, SIGHUP)
        XCTAssertTrue(up.waitForOutput("add: listening on 127.0.0.1:\(add)"), up.stderr)
        XCTAssertTrue(up.waitForOutput("reloaded"), up.stderr)
        XCTAssertTrue(up.process.isRunning)
        XCTAssertTrue(try echoes(onKeep), "an unchanged tunnel keeps its connections")
        XCTAssertEqual(try onChange.readToEnd(), [], "a changed tunnel is reopened: its connections end")
        XCTAssertTrue(try echoes(BlockingSocket(port: change)), "and it listens again with the new settings")
        XCTAssertTrue(try echoes(BlockingSocket(port: add)))
        XCTAssertTrue(TestKit.poll { (try? BlockingSocket(port: drop)) == nil }, "a removed tunnel stops listening")

        // A broken file changes nothing and says why in one line.
        try "[[tunnels]]\nname = \"keep\"\nurl = \"http://127.0.0.1:\(server.port)/t\"\nlisten = \"here\"\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        kill(up.pid, SIGHUP)
        XCTAssertTrue(up.waitForOutput("reload failed"), up.stderr)
        XCTAssertTrue(up.waitForOutput("\(file): tunnels[0].listen: 'here': expected HOST:PORT"), up.stderr)
        XCTAssertTrue(try echoes(onKeep))
        onKeep.close()
        XCTAssertEqual(up.signal(SIGTERM), 0)
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }
}
