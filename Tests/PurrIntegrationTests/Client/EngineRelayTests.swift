import Foundation
import NIOCore
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The client engine against a real in-process purr-server and real targets.
final class EngineRelayTests: XCTestCase {
    let group = InProcessServer.group

    struct Setup {
        let target: TestTarget
        let server: PurrServer
        let engine: TunnelEngine
        let tunnel: Tunnel
        var port: Int { tunnel.snapshot.port ?? 0 }
    }

    func setUp(_ behavior: TestTarget.Behavior, path: String = "/t", listen: String = "127.0.0.1:0") async throws -> Setup {
        let target = try await TestTarget.start(behavior, group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let config = TunnelConfig(
            name: "t",
            url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)\(path)"),
            listen: try ListenAddress(parsing: listen)
        )
        let tunnel = try engine.add(config)
        let state = await tunnel.open()
        XCTAssertEqual(state, .listening)
        return Setup(target: target, server: server, engine: engine, tunnel: tunnel)
    }

    func tearDown(_ setup: Setup) async {
        await setup.engine.shutdown()
        await setup.server.shutdown(drainTimeout: 0)
        await setup.target.stop()
    }

    func testClientSpeaksFirstAndHalfClosesBeforeTheUpgradeCompletes() async throws {
        let setup = try await setUp(.echo(banner: nil))
        let socket = try BlockingSocket(port: setup.port)
        try socket.write("hello")
        socket.shutdownWrite()
        XCTAssertEqual(String(decoding: try socket.readToEnd(), as: UTF8.self), "hello")
        await tearDown(setup)
    }

    func test64MiBBothWaysWithEqualHashesAndCounters() async throws {
        let setup = try await setUp(.echo(banner: nil))
        let payload = TestKit.randomPayload(count: 64 << 20)
        let socket = try BlockingSocket(port: setup.port, timeout: 30)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedBytes, payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        XCTAssertTrue(TestKit.poll { setup.tunnel.snapshot.active == 0 })
        let snapshot = setup.tunnel.snapshot
        XCTAssertEqual(snapshot.bytesUp, 64 << 20)
        XCTAssertEqual(snapshot.bytesDown, 64 << 20)
        XCTAssertEqual(snapshot.total, 1)
        XCTAssertEqual(snapshot.failed, 0)
        await tearDown(setup)
    }

    func testTargetHalfClosesFirstAndTheClientKeepsSending() async throws {
        let setup = try await setUp(.sink(banner: "bye\n"))
        let socket = try BlockingSocket(port: setup.port)
        XCTAssertEqual(String(decoding: try socket.readToEnd(), as: UTF8.self), "bye\n")
        let payload = TestKit.randomPayload(count: 1 << 20)
        try socket.write(payload)
        socket.shutdownWrite()
        XCTAssertTrue(TestKit.poll { setup.target.sinkResults.count == 1 })
        XCTAssertEqual(setup.target.sinkResults.first?.sha256, TestKit.sha256(payload))
        await tearDown(setup)
    }

    func testServerSpeaksFirst() async throws {
        let setup = try await setUp(.echo(banner: "SSH-2.0-PurrTest\r\n"))
        let socket = try BlockingSocket(port: setup.port)
        XCTAssertEqual(String(decoding: try socket.read(exactly: 18), as: UTF8.self), "SSH-2.0-PurrTest\r\n")
        await tearDown(setup)
    }

    func testFailingRouteIsCountedAndTheTunnelKeepsListening() async throws {
        let setup = try await setUp(.echo(banner: nil), path: "/nope")
        for attempt in 1...2 {
            let socket = try BlockingSocket(port: setup.port)
            XCTAssertEqual(try socket.readToEnd(), [], "the local connection is closed")
            XCTAssertTrue(TestKit.poll { setup.tunnel.snapshot.failed == attempt })
        }
        let snapshot = setup.tunnel.snapshot
        XCTAssertEqual(snapshot.state, .listening)
        XCTAssertEqual(snapshot.lastError, "server answered 404 Not Found: no route for /nope")
        await tearDown(setup)
    }

    func testServerDownThenUp() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let serverPort = RunningProcess.freePort()
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(TunnelConfig(name: "later", url: try ServerURL(parsing: "http://127.0.0.1:\(serverPort)/t")))
        await tunnel.open()
        let early = try BlockingSocket(port: tunnel.snapshot.port!)
        XCTAssertEqual(try early.readToEnd(), [])
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.failed == 1 })
        XCTAssertEqual(tunnel.snapshot.lastError, "connection refused by 127.0.0.1:\(serverPort)")
        XCTAssertEqual(tunnel.snapshot.state, .listening)

        var config = ServerConfig()
        config.listen = HostPort(host: "127.0.0.1", port: serverPort)
        config.routes = [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))]
        let server = PurrServer(config: config, group: group, logger: InProcessServer.quietLogger)
        try await server.start()
        let later = try BlockingSocket(port: tunnel.snapshot.port!)
        try later.write("back")
        XCTAssertEqual(try later.read(exactly: 4), Array("back".utf8))
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testOriginalServerStandIn() async throws {
        let original101 = try WireFixtures.originalServer101()
        let standIn = try OriginalServerStandIn(response101: original101, banner: "SSH-2.0-Original\r\n")
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(TunnelConfig(name: "orig", url: try ServerURL(parsing: "http://127.0.0.1:\(standIn.port)/ssh")))
        await tunnel.open()
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        // The banner came in the same packet as the 101: it must still arrive.
        XCTAssertEqual(String(decoding: try socket.read(exactly: 18), as: UTF8.self), "SSH-2.0-Original\r\n")
        try socket.write("echo me")
        XCTAssertEqual(try socket.read(exactly: 7), Array("echo me".utf8))
        let expected = try WireFixtures.originalClientRequest(port: standIn.port)
        // Our extension headers go last and the original server ignores them; the rest is the original's.
        let request = standIn.requests.first ?? ""
        XCTAssertTrue(request.hasSuffix("Purr-Connection: \(ClientInstance.id)/orig/1\r\n\r\n"), request)
        let ours = request.replacingOccurrences(of: "Purr-Early-Data: 1\r\n", with: "")
            .replacingOccurrences(of: "Purr-Connection: \(ClientInstance.id)/orig/1\r\n", with: "")
        XCTAssertEqual(ours, String(decoding: expected, as: UTF8.self), "our request is the original client's, byte for byte")
        await engine.shutdown()
        standIn.stop()
    }

    func testTokenAndExtraHeadersAreSent() async throws {
        let original101 = try WireFixtures.originalServer101()
        let standIn = try OriginalServerStandIn(response101: original101, banner: "")
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let config = TunnelConfig(
            name: "h",
            url: try ServerURL(parsing: "http://127.0.0.1:\(standIn.port)/ssh"),
            token: "tok",
            headers: [try TunnelConfig.Header(parsing: "X-Auth-Proxy: yes please")]
        )
        let tunnel = try engine.add(config)
        await tunnel.open()
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        try socket.write("x")
        _ = try socket.read(exactly: 1)
        let request = try XCTUnwrap(standIn.requests.first)
        XCTAssertTrue(
            request.hasSuffix(
                "Accept-Encoding: gzip\r\nAuthorization: Bearer tok\r\nX-Auth-Proxy: yes please\r\nPurr-Early-Data: 1\r\nPurr-Connection: \(ClientInstance.id)/h/1\r\n\r\n"
            ),
            request)
        await engine.shutdown()
        standIn.stop()
    }

    func testLocalhostListensOnBothFamiliesOnOnePort() async throws {
        let setup = try await setUp(.echo(banner: nil), listen: "localhost:0")
        let bound = setup.tunnel.snapshot.boundAddresses
        XCTAssertEqual(bound.count, 2, "\(bound)")
        XCTAssertEqual(bound.first, "127.0.0.1:\(setup.port)")
        XCTAssertEqual(bound.last, "[::1]:\(setup.port)")
        for host in ["127.0.0.1", "::1"] {
            let socket = try BlockingSocket(host: host, port: setup.port)
            try socket.write(host)
            XCTAssertEqual(try socket.read(exactly: host.utf8.count), Array(host.utf8))
        }
        await tearDown(setup)
    }

    func testOpenAndCloseFromManyTasks() async throws {
        let setup = try await setUp(.echo(banner: nil))
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    if index % 2 == 0 { await setup.tunnel.open() } else { await setup.tunnel.close() }
                }
            }
        }
        await setup.tunnel.close()
        XCTAssertEqual(setup.tunnel.snapshot.state, .closed)
        let reopened = await setup.tunnel.open()
        XCTAssertEqual(reopened, .listening)
        let socket = try BlockingSocket(port: setup.port)
        try socket.write("ok")
        XCTAssertEqual(try socket.read(exactly: 2), Array("ok".utf8))
        await tearDown(setup)
    }

    func testClosingATunnelClosesItsConnectionsAndListener() async throws {
        let setup = try await setUp(.echo(banner: nil))
        let port = setup.port
        let socket = try BlockingSocket(port: port)
        try socket.write("1")
        _ = try socket.read(exactly: 1)
        await setup.tunnel.close()
        XCTAssertEqual(try socket.readToEnd(), [])
        XCTAssertThrowsError(try BlockingSocket(port: port))
        XCTAssertTrue(TestKit.poll { setup.tunnel.snapshot.active == 0 })
        await tearDown(setup)
    }

    func testEventsFollowAConnectionThroughItsStates() async throws {
        let setup = try await setUp(.echo(banner: nil))
        let events = setup.engine.events()
        let collector = Task { () -> [String] in
            var states: [String] = []
            for await event in events {
                if case .connectionChanged(_, let connection) = event {
                    states.append("\(connection.state)")
                    if connection.state == .closed { break }
                }
            }
            return states
        }
        let socket = try BlockingSocket(port: setup.port)
        try socket.write("e")
        _ = try socket.read(exactly: 1)
        socket.close()
        let states = await collector.value
        XCTAssertEqual(states, ["connecting", "upgrading", "relaying", "closed"])
        await tearDown(setup)
    }

    func testIdleTimeoutClosesAQuietConnection() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(
            TunnelConfig(name: "idle", url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)/t"), idleTimeout: 0.3))
        await tunnel.open()
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        try socket.write("x")
        _ = try socket.read(exactly: 1)
        XCTAssertEqual(try socket.readToEnd(), [], "closed after 0.3 s of silence")
        // An idle close is a normal end everywhere (client, server, stats), not a failure.
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.active == 0 })
        XCTAssertEqual(tunnel.snapshot.failed, 0)
        XCTAssertNil(tunnel.snapshot.lastError)
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testCannotListenIsAnErrorState() async throws {
        let setup = try await setUp(.echo(banner: nil))
        let taken = setup.port
        let second = try setup.engine.add(
            TunnelConfig(name: "clash", url: setup.tunnel.config.url, listen: ListenAddress(host: "127.0.0.1", port: taken)))
        let state = await second.open()
        XCTAssertEqual(state, .error("cannot listen on 127.0.0.1:\(taken): Address already in use"))
        XCTAssertEqual(second.snapshot.lastError, "cannot listen on 127.0.0.1:\(taken): Address already in use")
        await tearDown(setup)
    }
}
