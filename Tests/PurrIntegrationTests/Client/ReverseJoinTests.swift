import Foundation
import PurrClient
import PurrCore
import PurrTestSupport
import XCTest

/// Issue 28, point 2: a reverse tunnel's published connections are connections of the tunnel, each with
/// the id its held request carried (`Purr-Connection`), so the TUI joins both ends as for forward ones:
/// the engine's snapshot and the server's `/stats` name the same id while it relays.
final class ReverseJoinTests: XCTestCase {
    static let token = "rev-join-token"

    func testEachPublishedConnectionIsATunnelConnectionJoinedByIDWithTheServersRecord() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        let published = RunningProcess.freePort()
        let admin = RunningProcess.freePort()
        let (server, serverPort) = try RunningProcess.reverseServer(
            token: Self.token, published: published, arguments: ["--admin-port", String(admin)])
        defer { server.stop() }
        var config = TunnelConfig(name: "lab", url: try ServerURL(parsing: "http://127.0.0.1:\(serverPort)/rev/web"), token: Self.token)
        config.mode = .reverse
        config.target = HostPort(host: "127.0.0.1", port: target.port)
        config.pool = 2
        let engine = TunnelEngine(environment: [:])
        try engine.add(config)
        _ = await engine.open("lab")
        XCTAssertTrue(TestKit.poll(timeout: 20) { engine.snapshot(of: "lab")?.stateWord == "exposed" }, server.stderr)

        let user = try BlockingSocket(port: published)
        let payload = TestKit.randomPayload(count: 100_000)
        try user.write(payload)
        XCTAssertEqual(try user.read(exactly: payload.count), payload)
        // This side: one connection, relaying, its bytes counted both ways, with an id.
        var ours: ConnectionSnapshot?
        XCTAssertTrue(
            TestKit.poll(timeout: 10) {
                ours = engine.snapshot(of: "lab")?.connections.first
                return ours.map { $0.bytesUp == payload.count && $0.bytesDown == payload.count } ?? false
            }, "\(String(describing: engine.snapshot(of: "lab")))")
        let connection = try XCTUnwrap(ours)
        XCTAssertEqual(connection.state, .relaying)
        XCTAssertEqual(connection.peer, "← web")
        XCTAssertEqual(connection.target, "127.0.0.1:\(target.port)")
        let id = try XCTUnwrap(connection.clientID)
        XCTAssertEqual(engine.snapshot(of: "lab")?.active, 1)
        // The server's side: the same id on its record of the connection, relaying.
        let record = try XCTUnwrap(Self.serverConnections(admin: admin).first { $0.clientID == id }, "the server knows \(id)")
        XCTAssertEqual(record.state, .relaying)

        // Ended: gone from the tunnel's connections, its bytes kept in the tunnel's totals.
        user.close()
        XCTAssertTrue(TestKit.poll(timeout: 10) { engine.snapshot(of: "lab")?.connections.isEmpty ?? false })
        let totals = try XCTUnwrap(engine.snapshot(of: "lab"))
        XCTAssertEqual(totals.bytesUp, payload.count)
        XCTAssertEqual(totals.bytesDown, payload.count)
        await engine.shutdown()
        await target.stop()
    }

    static func serverConnections(admin: Int) throws -> [StatsSnapshot.Connection] {
        let result = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-sS", "-m", "5", "--noproxy", "*", "http://127.0.0.1:\(admin)/stats"])
        return try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(result.stdout.utf8)).connections
    }
}
