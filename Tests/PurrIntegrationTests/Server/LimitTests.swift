import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// Connection limits, head size, idle timeout: over a limit gets one clear line, is counted, and every
/// other tunnel keeps working.
final class LimitTests: XCTestCase {
    let group = InProcessServer.group

    func open(_ server: PurrServer, _ path: String) throws -> (BlockingSocket, String) {
        let socket = try BlockingSocket(port: server.port)
        let (head, _) = try socket.upgrade(path: path, port: server.port)
        return (socket, head)
    }

    func testGlobalAndPerRouteConnectionLimits() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        var limited = try Route(path: "/small", target: HostPort(host: "127.0.0.1", port: target.port))
        limited.maxConnections = 2
        let server = try await InProcessServer.start(
            routes: [limited, try Route(path: "/big", target: HostPort(host: "127.0.0.1", port: target.port))],
            configure: { $0.maxConnections = 5 })
        var held: [BlockingSocket] = []
        for _ in 0..<2 {
            let (socket, head) = try open(server, "/small")
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"))
            held.append(socket)
        }
        let third = try BlockingSocket(port: server.port)
        try third.write(UpgradeRequest(path: "/small", host: "x").encoded())
        let refused = try third.readResponse()
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.body, "route /small is at its limit of 2 connections\n")
        for _ in 0..<3 {
            let (socket, head) = try open(server, "/big")
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), "the other route still works")
            held.append(socket)
        }
        let sixth = try BlockingSocket(port: server.port)
        try sixth.write(UpgradeRequest(path: "/big", host: "x").encoded())
        let full = try sixth.readResponse()
        XCTAssertEqual(full.status, 503)
        XCTAssertEqual(full.body, "server is at its limit of 5 connections\n")
        for socket in held {
            try socket.write("alive")
            XCTAssertEqual(try socket.read(exactly: 5), Array("alive".utf8))
        }
        XCTAssertTrue(TestKit.poll { server.registry.snapshot().totals.failures["over_limit"] == 2 })
        held.first?.close()
        XCTAssertTrue(TestKit.poll { server.registry.snapshot().routes.first { $0.path == "/small" }?.active == 1 })
        let again = try open(server, "/small")
        XCTAssertTrue(again.1.hasPrefix("HTTP/1.1 101"), "a freed slot is usable again")
        await server.shutdown(drainTimeout: 0)
    }

    func testHeadSizeAndIdleTimeout() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(
            routes: [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))],
            configure: {
                $0.maxHeadSize = 2048
                $0.idleTimeout = 0.3
            })
        let big = try BlockingSocket(port: server.port)
        try big.write("GET /t HTTP/1.1\r\nX-Padding: \(String(repeating: "p", count: 3000))\r\n\r\n")
        let answer = try big.readResponse()
        XCTAssertEqual(answer.status, 431)
        XCTAssertEqual(answer.body, "request head larger than 2048 bytes\n")
        let (quiet, _) = try open(server, "/t")
        try quiet.write("x")
        _ = try quiet.read(exactly: 1)
        XCTAssertEqual(try quiet.readToEnd(), [], "closed after 0.3 s without traffic")
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
        await server.shutdown(drainTimeout: 0)
    }

    func testLimitFlagsAreChecked() throws {
        for (arguments, expected) in [
            (["--max-connections", "0"], "--max-connections: 0 is out of range"),
            (["--idle-timeout=-1"], "--idle-timeout: -1.0 is out of range"),
            (["--max-head-size", "10"], "--max-head-size: 10 is out of range"),
        ] {
            let result = try RunningProcess.run("purr-server", arguments)
            XCTAssertEqual(result.status, 2)
            XCTAssertTrue(result.stderr.contains(expected), result.stderr)
        }
    }
}
