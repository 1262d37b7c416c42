import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The client's and the server's view of one connection, joined by the `Purr-Connection` id, with
/// each hop's TCP_INFO: a real engine, a real server and its admin stream.
final class ConnectionJoinTests: XCTestCase {
    let group = InProcessServer.group

    func testClientAndServerShareTheConnectionIdAndReportEachHop() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let admin = AdminServer(
            config: AdminConfig(listen: HostPort(host: "127.0.0.1", port: 0)), registry: server.registry, group: group,
            logger: InProcessServer.quietLogger)
        try await admin.start()
        let stream = try AdminStream(name: "local", adminURL: "http://127.0.0.1:\(admin.port)", token: nil, intervalMs: 100, group: group)
        stream.start()
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(TunnelConfig(name: "echo tunnel", url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)/echo")))
        await tunnel.open()
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        let payload = TestKit.randomPayload(count: 1 << 20)
        let outcome = try Duplex.exchange(socket, payload: payload, expect: payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))

        let clientID = try XCTUnwrap(tunnel.snapshot.connections.first?.clientID)
        XCTAssertEqual(clientID, "\(ClientInstance.id)/echo%20tunnel/1", "instance/tunnel/n, the name percent-encoded")
        XCTAssertEqual(server.registry.snapshot().connections.first?.clientID, clientID, "the server recorded the same id")
        XCTAssertTrue(
            TestKit.poll { stream.latest?.connections.first?.clientID == clientID && stream.latest?.connections.first?.tcp?.target != nil },
            "the admin stream carries the id and the target hop")
        let hops = try XCTUnwrap(stream.latest?.connections.first?.tcp)
        XCTAssertGreaterThan(try XCTUnwrap(hops.client).bytesReceived, 0, "the socket from the client received the payload")
        XCTAssertGreaterThan(try XCTUnwrap(hops.target).bytesAcked, 0, "the socket to the target sent it")
        XCTAssertTrue(
            TestKit.poll { (tunnel.snapshot.connections.first?.tcp?.bytesAcked ?? 0) >= payload.count },
            "the client reads its socket to the server, again each interval: everything sent was acknowledged")
        XCTAssertGreaterThan(try XCTUnwrap(tunnel.snapshot.connections.first?.tcp).rttUs, 0)

        // The JSON names, as documented.
        let raw = try BlockingSocket(port: admin.port)
        try raw.write("GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let body = try raw.readResponse().body
        for part in [
            "\"client_id\":\"\(clientID)\"", "\"tcp\":{\"client\":{", "\"target\":{", "\"rtt_us\":", "\"retransmits\":", "\"unacked\":",
        ] {
            XCTAssertTrue(body.contains(part), "\(part) missing from \(body)")
        }

        // The connection events carry the id too.
        let closed = EventBox()
        server.registry.addObserver { closed.add($0) }
        socket.close()
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
        XCTAssertTrue(TestKit.poll { closed.all.contains { $0.event == .closed && $0.connection.clientID == clientID } })
        await stream.stop()
        await engine.shutdown()
        await admin.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testAJunkConnectionIdIsIgnored() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        for junk in [String(repeating: "x", count: 300), "two words", "caf\u{e9}"] {
            let socket = try BlockingSocket(port: server.port)
            var request = UpgradeRequest(path: "/echo", host: "127.0.0.1:\(server.port)")
            request.connectionID = junk
            try socket.write(request.encoded())
            XCTAssertTrue(try socket.readHead().head.hasPrefix("HTTP/1.1 101"), "an odd id never refuses the connection")
            XCTAssertTrue(TestKit.poll { server.registry.snapshot().connections.first?.state == .relaying })
            XCTAssertNil(server.registry.snapshot().connections.first?.clientID, junk)
            socket.close()
            XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
        }
        await server.shutdown(drainTimeout: 0)
    }

    func testIdsAreOnePrintableTokenOfBoundedLength() {
        let long = ClientInstance.connectionID(tunnel: String(repeating: "ü", count: 100), number: 12)
        XCTAssertLessThanOrEqual(long.utf8.count, 150)
        XCTAssertTrue(long.hasSuffix("/12") && long.hasPrefix("\(ClientInstance.id)/%C3%BC"), long)
        XCTAssertEqual(ClientInstance.connectionID(tunnel: "db-1.prod_x~", number: 3), "\(ClientInstance.id)/db-1.prod_x~/3")
    }

    func testTheRequestCarriesTheIdAfterEveryOtherHeader() {
        var request = UpgradeRequest(path: "/ssh", host: "purr.example.com:8080", token: "t")
        let original = request.encoded()
        request.connectionID = "0a1b2c3d/ssh/7"
        XCTAssertEqual(
            request.encoded(), String(decoding: Array(original.utf8).dropLast(2), as: UTF8.self) + "Purr-Connection: 0a1b2c3d/ssh/7\r\n\r\n"
        )
    }
}

/// Connection events seen by an observer.
final class EventBox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ConnectionEvent] = []
    func add(_ event: ConnectionEvent) { lock.withLock { events.append(event) } }
    var all: [ConnectionEvent] { lock.withLock { events } }
}
