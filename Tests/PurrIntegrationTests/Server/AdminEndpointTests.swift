import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The admin endpoint against a real server with real relayed traffic.
final class AdminEndpointTests: XCTestCase {
    let group = InProcessServer.group

    struct Setup {
        let server: PurrServer
        let admin: AdminServer
        let target: TestTarget
    }

    func start(token: String? = nil, backlogLimit: Int = 1 << 20, drain: Bool = false) async throws -> Setup {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/echo", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        var config = AdminConfig(listen: HostPort(host: "127.0.0.1", port: 0), token: token)
        config.viewerBacklogLimit = backlogLimit
        let admin = AdminServer(
            config: config, registry: server.registry, group: group, logger: InProcessServer.quietLogger,
            drain: drain ? { @Sendable in server.drain() } as (@Sendable () -> DrainStart) : nil)
        try await admin.start()
        return Setup(server: server, admin: admin, target: target)
    }

    func stop(_ setup: Setup) async {
        await setup.admin.shutdown()
        await setup.server.shutdown(drainTimeout: 0)
        await setup.target.stop()
    }

    func get(_ port: Int, _ path: String, token: String? = nil) throws -> (status: Int, head: String, body: String) {
        let socket = try BlockingSocket(port: port)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        try socket.write(request + "\r\n")
        return try socket.readResponse()
    }

    /// Relays `count` bytes through the echo route and returns the still-open socket.
    func relay(_ setup: Setup, bytes count: Int) throws -> BlockingSocket {
        let socket = try BlockingSocket(port: setup.server.port)
        _ = try socket.upgrade(path: "/echo", port: setup.server.port)
        let payload = TestKit.randomPayload(count: count)
        try socket.write(payload)
        XCTAssertEqual(try socket.read(exactly: count), payload)
        return socket
    }

    func testHealthStatsAndMetricsMatchTheRelayedBytes() async throws {
        let setup = try await start()
        let port = setup.admin.port
        XCTAssertEqual(try get(port, "/healthz").body, "ok\n")
        let open = try relay(setup, bytes: 300_000)
        let closed = try relay(setup, bytes: 1_000_000)
        closed.close()
        XCTAssertTrue(TestKit.poll { setup.server.registry.activeCount == 1 })

        let stats = try get(port, "/stats")
        XCTAssertEqual(stats.status, 200)
        XCTAssertTrue(stats.head.lowercased().contains("content-type: application/json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any])
        let route = try XCTUnwrap((json["routes"] as? [[String: Any]])?.first)
        XCTAssertEqual(route["path"] as? String, "/echo")
        XCTAssertEqual(route["bytes_in"] as? Int, 1_300_000)
        XCTAssertEqual(route["bytes_out"] as? Int, 1_300_000)
        XCTAssertEqual(route["active"] as? Int, 1)
        XCTAssertEqual(route["total"] as? Int, 2)
        let server = try XCTUnwrap(json["server"] as? [String: Any])
        XCTAssertNotNil(server["uptime_seconds"] as? Double)
        XCTAssertEqual(server["listen"] as? String, "127.0.0.1:\(setup.server.port)")
        XCTAssertNotNil(server["version"] as? String)
        let started = try XCTUnwrap(server["started"] as? String)
        XCTAssertNotNil(ISO8601DateFormatter().date(from: started), "RFC 3339: \(started)")
        let connection = try XCTUnwrap((json["connections"] as? [[String: Any]])?.first)
        XCTAssertEqual(connection["route"] as? String, "/echo")
        XCTAssertEqual(connection["state"] as? String, "relaying")
        XCTAssertEqual(connection["bytes_in"] as? Int, 300_000)
        XCTAssertTrue((connection["peer"] as? String ?? "").hasPrefix("127.0.0.1:"))
        let totals = try XCTUnwrap(json["totals"] as? [String: Any])
        XCTAssertEqual(totals["bytes_in"] as? Int, 1_300_000)

        let decoded = try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(stats.body.utf8))
        XCTAssertEqual(decoded.routes.first?.bytesOut, 1_300_000)

        _ = try get(setup.server.port, "/not-purr")  // a refusal, for the failures metric
        let metrics = try get(port, "/metrics")
        XCTAssertEqual(metrics.status, 200)
        for line in [
            "# TYPE purr_connections_active gauge", "purr_connections_active{route=\"/echo\"} 1",
            "# TYPE purr_connections_total counter", "purr_connections_total{route=\"/echo\"} 2",
            "purr_bytes_total{route=\"/echo\",direction=\"in\"} 1300000", "purr_bytes_total{route=\"/echo\",direction=\"out\"} 1300000",
            "purr_failures_total{route=\"\",reason=\"not_purr\"} 1", "# HELP purr_uptime_seconds",
        ] {
            XCTAssertTrue(metrics.body.contains(line + (line.hasPrefix("#") ? "" : "\n")), "missing: \(line)\n\(metrics.body)")
        }
        XCTAssertEqual(try get(port, "/nope").status, 404)
        XCTAssertEqual(try get(port, "/stats/stream?interval_ms=5").status, 400)
        open.close()
        await stop(setup)
    }

    func post(_ port: Int, _ path: String, token: String? = nil) throws -> (status: Int, head: String, body: String) {
        let socket = try BlockingSocket(port: port)
        var request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        try socket.write(request + "\r\n")
        return try socket.readResponse()
    }

    /// `POST /drain` only with a token (any web page can POST to loopback), only POST; it answers what
    /// the drain did as JSON, and the stats say `draining` from then on.
    func testDrainNeedsATokenAndAPOST() async throws {
        let open = try await start(drain: true)
        let refused = try post(open.admin.port, "/drain")
        XCTAssertEqual(refused.status, 403, refused.body)
        XCTAssertTrue(refused.body.contains("POST /drain needs an admin token"), refused.body)
        XCTAssertFalse(open.server.isDraining)
        await stop(open)

        let setup = try await start(token: "s3cret", drain: true)
        let port = setup.admin.port
        let live = try relay(setup, bytes: 1000)
        XCTAssertEqual(try post(port, "/drain").status, 401)
        XCTAssertEqual(try post(port, "/drain", token: "wrong").status, 401)
        // The token in the URL, as a cross-site form would send it, does not drain.
        let form = try BlockingSocket(port: port)
        try form.write(
            "POST /drain?token=s3cret HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let fromForm = try form.readResponse()
        form.close()
        XCTAssertEqual(fromForm.status, 403, fromForm.body)
        XCTAssertTrue(fromForm.body.contains("in a header"), fromForm.body)
        let notPOST = try get(port, "/drain", token: "s3cret")
        XCTAssertEqual(notPOST.status, 405)
        XCTAssertTrue(notPOST.head.contains("Allow: POST"), notPOST.head)
        XCTAssertFalse(setup.server.isDraining, "nothing but a POST with the token drains")

        let answer = try post(port, "/drain", token: "s3cret")
        XCTAssertEqual(answer.status, 200, answer.body)
        let started = try AdminJSON.decoder().decode(DrainStart.self, from: Data(answer.body.utf8))
        XCTAssertEqual(started, DrainStart(already: false, relays: 1, drainTimeout: 10))
        let again = try AdminJSON.decoder().decode(DrainStart.self, from: Data(try post(port, "/drain", token: "s3cret").body.utf8))
        XCTAssertTrue(again.already)
        XCTAssertTrue(setup.server.isDraining)
        let stats = try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(try get(port, "/stats", token: "s3cret").body.utf8))
        XCTAssertTrue(stats.server.draining)
        live.close()
        await stop(setup)
    }

    func testTokenIsRequired() async throws {
        let setup = try await start(token: "adm1n")
        let port = setup.admin.port
        for path in ["/stats", "/metrics", "/stats/stream"] {
            XCTAssertEqual(try get(port, path).status, 401, path)
            XCTAssertEqual(try get(port, path, token: "wrong").status, 401, path)
        }
        XCTAssertEqual(try get(port, "/stats", token: "adm1n").status, 200)
        XCTAssertEqual(try get(port, "/healthz").status, 200, "health checks need no token")
        await stop(setup)
    }

    /// Reads the stream until `count` events of `name` arrived; returns their data and arrival times.
    func readEvents(_ socket: BlockingSocket, name: String, count: Int, timeout: Double = 20) throws -> [(String, Date)] {
        var text = ""
        var found: [(String, Date)] = []
        let deadline = Date().addingTimeInterval(timeout)
        while found.count < count && Date() < deadline {
            let chunk = try socket.read()
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            while let range = text.range(of: "event: \(name)\ndata: "), let end = text[range.upperBound...].range(of: "\n\n") {
                found.append((String(text[range.upperBound..<end.lowerBound]), Date()))
                text = String(text[end.upperBound...])
            }
        }
        return found
    }

    func testStreamDeliversStatsAtTheIntervalAndConnectionEvents() async throws {
        let setup = try await start()
        let viewer = try BlockingSocket(port: setup.admin.port)
        try viewer.write("GET /stats/stream?interval_ms=200 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let (head, _) = try viewer.readHead()
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"))
        XCTAssertTrue(head.lowercased().contains("content-type: text/event-stream"))
        let stats = try readEvents(viewer, name: "stats", count: 5)
        XCTAssertEqual(stats.count, 5)
        let span = stats[4].1.timeIntervalSince(stats[0].1)
        XCTAssertGreaterThan(span, 0.6, "four intervals of 200 ms")
        XCTAssertNoThrow(try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(stats[0].0.utf8)))

        let tunnel = try relay(setup, bytes: 4096)
        tunnel.close()
        let events = try readEvents(viewer, name: "connection", count: 2)
        let decoded = try events.map { try AdminJSON.decoder().decode(ConnectionEvent.self, from: Data($0.0.utf8)) }
        XCTAssertEqual(decoded.map(\.event), [.opened, .closed])
        XCTAssertEqual(decoded.last?.connection.bytesIn, 4096)
        XCTAssertEqual(decoded.last?.connection.bytesOut, 4096)
        XCTAssertEqual(decoded.last?.connection.reason, "closed")
        XCTAssertEqual(setup.server.registry.observerCount, 1)
        viewer.close()
        XCTAssertTrue(TestKit.poll { setup.server.registry.observerCount == 0 }, "a viewer that leaves frees its observer")
        await stop(setup)
    }

    func testFiftyStalledViewersDoNotStopARelayAndAreDropped() async throws {
        let setup = try await start(backlogLimit: 64 * 1024)
        // Many open tunnels make each snapshot big, so stalled viewers fall behind quickly.
        var held: [BlockingSocket] = []
        for _ in 0..<150 { held.append(try relay(setup, bytes: 16)) }
        var viewers: [BlockingSocket] = []
        for _ in 0..<50 {
            let viewer = try BlockingSocket(port: setup.admin.port)
            viewer.setReceiveBuffer(4096)
            try viewer.write("GET /stats/stream?interval_ms=100 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            viewers.append(viewer)
        }
        XCTAssertTrue(TestKit.poll { setup.server.registry.observerCount == 50 })
        let payload = TestKit.randomPayload(count: 64 << 20, seed: 42)
        let socket = try BlockingSocket(port: setup.server.port, timeout: 30)
        _ = try socket.upgrade(path: "/echo", port: setup.server.port)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
        XCTAssertTrue(
            TestKit.poll(timeout: 60) { setup.server.registry.observerCount == 0 },
            "viewers that never read are dropped once their backlog passes the bound (\(setup.server.registry.observerCount) left)")
        for viewer in viewers { viewer.close() }
        for socket in held { socket.close() }
        await stop(setup)
    }

    func testRefusesNonLoopbackAdminWithoutToken() throws {
        let refused = try RunningProcess.run("purr-server", ["--listen", "127.0.0.1:0", "--admin-port", "0", "--admin-host", "0.0.0.0"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("admin endpoint on non-loopback address 0.0.0.0 needs a token"), refused.stderr)
        let orphan = try RunningProcess.run("purr-server", ["--admin-token", "x"])
        XCTAssertEqual(orphan.status, 2)
        XCTAssertTrue(orphan.stderr.contains("need --admin-port"))

        let process = try RunningProcess(
            "purr-server", ["--listen", "127.0.0.1:0", "--admin-port", "0"], environment: ["PURR_ADMIN_TOKEN": "from-env"])
        XCTAssertTrue(process.waitForOutput("admin on 127.0.0.1:"))
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("admin on") })
        let port = try XCTUnwrap(Int(line.split(separator: ":").last!))
        XCTAssertEqual(try get(port, "/stats").status, 401)
        XCTAssertEqual(try get(port, "/stats", token: "from-env").status, 200)
        XCTAssertFalse(process.stderr.contains("from-env"), "the token is never logged")
        XCTAssertEqual(process.signal(SIGTERM), 0)
    }
}
