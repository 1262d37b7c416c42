import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The server in-process, against real loopback sockets and real echo/sink targets.
final class ServerRelayTests: XCTestCase {
    let group = InProcessServer.group

    func echoServer(banner: String? = nil) async throws -> (TestTarget, PurrServer) {
        let target = try await TestTarget.start(.echo(banner: banner), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        return (target, server)
    }

    func testOriginalClientBytesGetTheOriginal101ThenRelay() async throws {
        let (_, server) = try await echoServer()
        let request = try WireFixtures.originalClientRequest(port: server.port)
            .replacingPath("/ssh", with: "/echo")
        let socket = try BlockingSocket(port: server.port)
        try socket.write(request)
        let expected = try WireFixtures.originalServer101()
        XCTAssertEqual(try socket.read(exactly: expected.count), expected)
        try socket.write("ping")
        XCTAssertEqual(String(decoding: try socket.read(exactly: 4), as: UTF8.self), "ping")
        await server.shutdown(drainTimeout: 0)
    }

    func testWebsocketUpgradeIsEchoed() async throws {
        let (_, server) = try await echoServer()
        let socket = try BlockingSocket(port: server.port)
        let (head, _) = try socket.upgrade(path: "/echo", port: server.port, upgrade: .websocket)
        XCTAssertEqual(head, UpgradeResponse.switching(.websocket))
        try socket.write("raw bytes")
        XCTAssertEqual(String(decoding: try socket.read(exactly: 9), as: UTF8.self), "raw bytes")
        await server.shutdown(drainTimeout: 0)
    }

    func test64MiBBothWaysWithEqualHashesAndExactCounters() async throws {
        let (_, server) = try await echoServer()
        let payload = TestKit.randomPayload(count: 64 << 20)
        let socket = try BlockingSocket(port: server.port, timeout: 30)
        _ = try socket.upgrade(path: "/echo", port: server.port)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedBytes, payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        socket.close()
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
        let route = try XCTUnwrap(server.registry.snapshot().routes.first)
        XCTAssertEqual(route.bytesIn, 64 << 20)
        XCTAssertEqual(route.bytesOut, 64 << 20)
        XCTAssertEqual(route.total, 1)
        XCTAssertEqual(route.active, 0)
        XCTAssertEqual(route.failures, [:])
        await server.shutdown(drainTimeout: 0)
    }

    func testHalfCloseFromClientKeepsTheOtherDirectionFlowing() async throws {
        let (_, server) = try await echoServer()
        let socket = try BlockingSocket(port: server.port)
        _ = try socket.upgrade(path: "/echo", port: server.port)
        try socket.write("last words")
        socket.shutdownWrite()
        // The echo only answers after our FIN reached it, then shuts its side: we read all, then EOF.
        XCTAssertEqual(String(decoding: try socket.readToEnd(), as: UTF8.self), "last words")
        await server.shutdown(drainTimeout: 0)
    }

    func testHalfCloseFromTargetKeepsTheClientSending() async throws {
        let target = try await TestTarget.start(.sink(banner: "bye\n"), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/sink", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let socket = try BlockingSocket(port: server.port)
        let (_, rest) = try socket.upgrade(path: "/sink", port: server.port)
        // The target said bye and shut its output; we see EOF but can still send.
        XCTAssertEqual(String(decoding: rest + (try socket.readToEnd()), as: UTF8.self), "bye\n")
        let payload = TestKit.randomPayload(count: 1 << 20)
        try socket.write(payload)
        socket.shutdownWrite()
        XCTAssertTrue(TestKit.poll { target.sinkResults.count == 1 })
        XCTAssertEqual(target.sinkResults.first?.bytes, payload.count)
        XCTAssertEqual(target.sinkResults.first?.sha256, TestKit.sha256(payload))
        await server.shutdown(drainTimeout: 0)
    }

    func testPipelinedBytesBehindTheHeadAreRelayed() async throws {
        let (_, server) = try await echoServer()
        let socket = try BlockingSocket(port: server.port)
        let (_, rest) = try socket.upgrade(path: "/echo", port: server.port, extra: Array("PIPELINED".utf8))
        let echoed = rest + (try socket.read(exactly: 9 - rest.count))
        XCTAssertEqual(String(decoding: echoed, as: UTF8.self), "PIPELINED")
        await server.shutdown(drainTimeout: 0)
    }

    func testPipelinedBytesAndFINBehindTheHead() async throws {
        let (_, server) = try await echoServer()
        let socket = try BlockingSocket(port: server.port)
        let request = UpgradeRequest(path: "/echo", host: "x").encoded() + "ALL AT ONCE"
        try socket.write(request)
        socket.shutdownWrite()
        let (_, rest) = try socket.readHead()
        XCTAssertEqual(String(decoding: rest + (try socket.readToEnd()), as: UTF8.self), "ALL AT ONCE")
        await server.shutdown(drainTimeout: 0)
    }

    func testServerThatSpeaksFirst() async throws {
        let (_, server) = try await echoServer(banner: "SSH-2.0-PurrTest\r\n")
        let socket = try BlockingSocket(port: server.port)
        let (head, rest) = try socket.upgrade(path: "/echo", port: server.port)
        XCTAssertEqual(head, UpgradeResponse.switching(.purr))
        let banner = rest + (try socket.read(exactly: 18 - rest.count))
        XCTAssertEqual(String(decoding: banner, as: UTF8.self), "SSH-2.0-PurrTest\r\n")
        await server.shutdown(drainTimeout: 0)
    }

    func test200ConcurrentTunnels() async throws {
        let (_, server) = try await echoServer()
        var sockets: [BlockingSocket] = []
        for _ in 0..<200 {
            let socket = try BlockingSocket(port: server.port)
            let (head, _) = try socket.upgrade(path: "/echo", port: server.port)
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"))
            sockets.append(socket)
        }
        let snapshot = server.registry.snapshot()
        XCTAssertEqual(snapshot.routes.first?.active, 200)
        XCTAssertEqual(snapshot.connections.filter { $0.state == .relaying }.count, 200)
        for (index, socket) in sockets.enumerated() {
            let message = Array("tunnel \(index) ".utf8) + TestKit.randomPayload(count: 1024, seed: UInt64(index + 1))
            try socket.write(message)
            XCTAssertEqual(try socket.read(exactly: message.count), message)
        }
        for socket in sockets { socket.close() }
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
        XCTAssertEqual(server.registry.snapshot().routes.first?.total, 200)
        await server.shutdown(drainTimeout: 0)
    }

    func testIPv6Listener() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group, host: "::1")
        let server = try await InProcessServer.start(
            routes: [try Route(path: "/v6", target: HostPort(host: "::1", port: target.port))], host: "::1")
        let socket = try BlockingSocket(host: "::1", port: server.port)
        _ = try socket.upgrade(path: "/v6", port: server.port)
        try socket.write("six")
        XCTAssertEqual(try socket.read(exactly: 3), Array("six".utf8))
        await server.shutdown(drainTimeout: 0)
    }

    func testStatsShowLiveConnectionState() async throws {
        let (_, server) = try await echoServer()
        let socket = try BlockingSocket(port: server.port)
        _ = try socket.upgrade(path: "/echo", port: server.port)
        try socket.write("12345")
        _ = try socket.read(exactly: 5)
        let live = try XCTUnwrap(server.registry.snapshot().connections.first)
        XCTAssertEqual(live.state, .relaying)
        XCTAssertEqual(live.route, "/echo")
        XCTAssertEqual(live.bytesIn, 5)
        XCTAssertEqual(live.bytesOut, 5)
        XCTAssertTrue(live.peer.hasPrefix("127.0.0.1:"))
        socket.close()
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
        await server.shutdown(drainTimeout: 0)
    }
}

extension Array where Element == UInt8 {
    func replacingPath(_ old: String, with new: String) -> [UInt8] {
        Array(String(decoding: self, as: UTF8.self).replacingOccurrences(of: "GET \(old) ", with: "GET \(new) ").utf8)
    }
}
