import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// Everything that is not a good upgrade gets one clear line, is counted, and hurts no other tunnel.
final class ServerRefusalTests: XCTestCase {
    let group = InProcessServer.group

    func start(headerTimeout: Double = 10) async throws -> (PurrServer, TestTarget, Int) {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let deadPort = RunningProcess.freePort()
        let server = try await InProcessServer.start(
            routes: [
                try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port)),
                try Route(path: "/secret", target: HostPort(host: "127.0.0.1", port: target.port), token: "s3cret"),
                try Route(path: "/down", target: HostPort(host: "127.0.0.1", port: deadPort)),
            ],
            headerTimeout: headerTimeout
        )
        return (server, target, deadPort)
    }

    func response(_ port: Int, _ raw: String) throws -> (status: Int, body: String) {
        let socket = try BlockingSocket(port: port)
        try socket.write(raw)
        let (status, _, body) = try socket.readResponse()
        return (status, body)
    }

    func upgradeRaw(_ path: String, headers: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\nUpgrade: purr\r\n\(headers)\r\n"
    }

    /// A good tunnel that must keep working while bad clients come and go.
    func assertGoodTunnel(_ server: PurrServer, file: StaticString = #filePath, line: UInt = #line) throws {
        let socket = try BlockingSocket(port: server.port)
        let (head, _) = try socket.upgrade(path: "/echo", port: server.port)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), file: file, line: line)
        try socket.write("still fine")
        XCTAssertEqual(try socket.read(exactly: 10), Array("still fine".utf8), file: file, line: line)
    }

    func testErrorAnswers() async throws {
        let (server, _, deadPort) = try await start()
        let port = server.port
        let cases: [(String, Int, String)] = [
            ("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not a Purr request: missing Upgrade header"),
            (upgradeRaw("/nowhere"), 404, "no route for /nowhere"),
            (upgradeRaw("/secret"), 401, "route /secret needs a token (Authorization: Bearer TOKEN, or ?token= for WebSocket clients)"),
            (upgradeRaw("/secret", headers: "Authorization: Bearer wrong\r\n"), 401, "wrong token for route /secret"),
            (upgradeRaw("/down"), 502, "connection refused to 127.0.0.1:\(deadPort)"),
            ("HELLO\r\n\r\n", 400, "malformed request: bad request line (method)"),
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 17 * 1024) + "\r\n\r\n", 431, "request head larger than 16384 bytes"),
        ]
        for (raw, status, body) in cases {
            let answer = try response(port, raw)
            XCTAssertEqual(answer.status, status, body)
            XCTAssertEqual(answer.body, body + "\n")
        }
        let failures = server.registry.snapshot().totals.failures
        XCTAssertEqual(failures["not_purr"], 1)
        XCTAssertEqual(failures["no_route"], 1)
        XCTAssertEqual(failures["unauthorized"], 2)
        XCTAssertEqual(failures["target_unreachable"], 1)
        XCTAssertEqual(failures["bad_request"], 1)
        XCTAssertEqual(failures["head_too_large"], 1)
        let routes = Dictionary(uniqueKeysWithValues: server.registry.snapshot().routes.map { ($0.path, $0) })
        XCTAssertEqual(routes["/secret"]?.failures["unauthorized"], 2)
        XCTAssertEqual(routes["/down"]?.failures["target_unreachable"], 1)
        try assertGoodTunnel(server)
        await server.shutdown(drainTimeout: 0)
    }

    func testTokenByBearerOrPurrTokenHeader() async throws {
        let (server, _, _) = try await start()
        for header in ["Authorization: Bearer s3cret\r\n", "Purr-Token: s3cret\r\n"] {
            let socket = try BlockingSocket(port: server.port)
            try socket.write(upgradeRaw("/secret", headers: header))
            let (head, _) = try socket.readHead()
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), header)
        }
        await server.shutdown(drainTimeout: 0)
    }

    func testNoRoutesAnswers404ToEverything() async throws {
        let server = try await InProcessServer.start(routes: [])
        let answer = try response(server.port, upgradeRaw("/ssh"))
        XCTAssertEqual(answer.status, 404)
        XCTAssertEqual(answer.body, "no routes are configured on this server\n")
        await server.shutdown(drainTimeout: 0)
    }

    func testStalledHeadTimesOutWhileOthersWork() async throws {
        let (server, _, _) = try await start(headerTimeout: 0.5)
        let stalled = try BlockingSocket(port: server.port)
        try stalled.write("GET /echo HTTP/1.1\r\nHost: x\r\n")
        try assertGoodTunnel(server)
        let (status, _, body) = try stalled.readResponse()
        XCTAssertEqual(status, 408)
        XCTAssertEqual(body, "no complete request head within 0.5 s\n")
        XCTAssertEqual(server.registry.snapshot().totals.failures["header_timeout"], 1)
        await server.shutdown(drainTimeout: 0)
    }

    func testBadClientsAreClosedAndCounted() async throws {
        let (server, _, _) = try await start()
        // A non-HTTP client: binary garbage is refused at once.
        let garbage = try BlockingSocket(port: server.port)
        try garbage.write(TestKit.randomPayload(count: 4096, seed: 7).map { $0 | 0x01 == 0x0d ? 0 : $0 })
        XCTAssertEqual(try garbage.readResponse().status, 400)
        // A client that disconnects mid-head.
        let quitter = try BlockingSocket(port: server.port)
        try quitter.write("GET /echo HTTP/1.1\r\nHo")
        quitter.close()
        // A client that resets mid-relay.
        let resetter = try BlockingSocket(port: server.port)
        _ = try resetter.upgrade(path: "/echo", port: server.port)
        try resetter.write("x")
        _ = try resetter.read(exactly: 1)
        resetter.reset()
        // A client that leaves while the head is half sent, then one that connects and says nothing.
        let silent = try BlockingSocket(port: server.port)
        silent.close()
        // All four accepted (the silent one may not be yet when the others are done) and all finished.
        XCTAssertTrue(TestKit.poll { server.registry.snapshot().totals.total == 4 && server.registry.activeCount == 0 })
        let snapshot = server.registry.snapshot()
        XCTAssertEqual(snapshot.totals.failures["bad_request"], 1)
        XCTAssertEqual(snapshot.totals.failures["client_gone"], 1)
        // One that never sent a byte is `unused` (what a warm pool's replaced connection looks like).
        XCTAssertEqual(snapshot.totals.failures["unused"], 1)
        XCTAssertEqual(snapshot.totals.total, 4)
        try assertGoodTunnel(server)
        await server.shutdown(drainTimeout: 0)
    }
}
