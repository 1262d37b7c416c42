import Foundation
import PurrCore
import PurrTestSupport
import Synchronization
import XCTest

/// Scale-out as users run it (docs/operations.md, Scale-out): three built purr-servers behind a real
/// HAProxy that checks `GET /healthz`, and a `purr connect` to HAProxy's URL. Draining one server
/// (`purr-server drain`) while an app keeps opening connections: HAProxy takes it out, new connections
/// go to the others, the app sees no failure, the relays on it finish byte-exact and it exits.
final class ScaleOutTests: XCTestCase {
    let group = InProcessServer.group
    static let adminToken = "scale-0ut-admin"

    struct Server {
        let process: RunningProcess
        let port: Int
        let adminPort: Int
    }

    func startServer(target: Int, port: Int = RunningProcess.freePort(), adminPort: Int = RunningProcess.freePort()) throws -> Server {
        let process = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(port)", "--route", "/echo=127.0.0.1:\(target)", "--admin-port", "\(adminPort)",
                "--drain-timeout", "60", "--log-level", "notice",
            ],
            environment: ["PURR_ADMIN_TOKEN": Self.adminToken])
        XCTAssertTrue(process.waitForOutput("admin on"), process.stderr)
        return Server(process: process, port: port, adminPort: adminPort)
    }

    func stats(_ server: Server) throws -> StatsSnapshot {
        let socket = try BlockingSocket(port: server.adminPort)
        defer { socket.close() }
        try socket.write(
            "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer \(Self.adminToken)\r\n\r\n")
        return try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(try socket.readResponse().body.utf8))
    }

    /// One app connection through the client: `payload` out, half-close, the same bytes back.
    /// App connections one after another, about 20 a second, each a byte-exact round trip of 8 KiB.
    static func load(port: Int) -> LoadLoop {
        LoadLoop(pace: .milliseconds(50)) { seed in
            let ok = roundTrip(port: port, payload: TestKit.randomPayload(count: 8 * 1024, seed: 1000 + seed))
            return ok ? (.echoed, nil) : (.wrong, "connection \(seed) did not echo its 8 KiB")
        }
    }

    static func roundTrip(port: Int, payload: [UInt8]) -> Bool {
        guard let socket = try? BlockingSocket(port: port, timeout: 15) else { return false }
        defer { socket.close() }
        guard let outcome = try? Duplex.exchange(socket, payload: payload) else { return false }
        return outcome.receivedSHA256 == TestKit.sha256(payload)
    }

    func curl(_ arguments: [String]) throws -> String {
        let run = try RunningProcess.run(absolute: "/usr/bin/curl", ["-si", "--max-time", "10"] + arguments)
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stdout
    }

    func testHAProxyTakesADrainedServerOutWithoutAFailedConnection() async throws {
        guard FileManager.default.isExecutableFile(atPath: HAProxyProcess.binary) else {
            throw XCTSkip("haproxy is not installed (scripts/deps.sh test installs it)")
        }
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let servers = try (0..<3).map { _ in try startServer(target: target.port) }
        defer { for server in servers { server.process.stop() } }
        let haproxy = try HAProxyProcess(servers: servers.map(\.port))
        defer { haproxy.stop() }
        XCTAssertTrue(TestKit.poll { ["s1", "s2", "s3"].allSatisfy { haproxy.status(of: $0) == "UP" } }, "\((try? haproxy.rows()) ?? [:])")

        let clientPort = RunningProcess.freePort()
        let client = try RunningProcess(
            "purr", ["connect", "http://127.0.0.1:\(haproxy.port)/echo", "--listen", "127.0.0.1:\(clientPort)", "--log-level", "warning"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening"), client.stderr)

        // Spread: every server relays some of 30 connections.
        for index in 0..<30 {
            XCTAssertTrue(Self.roundTrip(port: clientPort, payload: TestKit.randomPayload(count: 32 * 1024, seed: UInt64(index + 1))))
        }
        for server in servers { XCTAssertGreaterThan(try stats(server).totals.total, 0, "HAProxy spreads the connections") }

        // Long relays, left open across the drain; the server holding some is the one drained.
        var long: [BlockingSocket] = []
        for _ in 0..<6 {
            let socket = try BlockingSocket(port: clientPort, timeout: 15)
            try socket.write("hi")
            XCTAssertEqual(try socket.read(exactly: 2), Array("hi".utf8))
            long.append(socket)
        }
        defer { for socket in long { socket.close() } }
        let relaying = try servers.map { try stats($0).connections.filter { $0.state == .relaying }.count }
        let victimIndex = try XCTUnwrap(relaying.firstIndex { $0 > 0 }, "\(relaying)")
        let victim = servers[victimIndex]
        let victimName = "s\(victimIndex + 1)"

        let healthy = try curl(["http://127.0.0.1:\(victim.port)/healthz"])
        XCTAssertTrue(healthy.hasPrefix("HTTP/1.1 200 OK\r\n") && healthy.hasSuffix("\r\n\r\nok\n"), healthy)

        // The app keeps opening connections (about 20 a second) through the drain.
        let load = Self.load(port: clientPort)
        defer { load.stop() }
        XCTAssertTrue(TestKit.poll { load.now.echoed >= 10 }, "the load runs: \(load.now)")

        let drainedAt = ContinuousClock.now
        let drain = try RunningProcess.run(
            "purr-server", ["drain", "--admin", "127.0.0.1:\(victim.adminPort)"],
            environment: ["PURR_ADMIN_TOKEN": Self.adminToken])
        XCTAssertEqual(drain.status, 0, drain.stderr)
        XCTAssertTrue(drain.stdout.contains("draining: \(relaying[victimIndex]) relay"), drain.stdout)

        let draining = try curl(["http://127.0.0.1:\(victim.port)/healthz"])
        XCTAssertTrue(draining.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), draining)
        XCTAssertTrue(draining.contains("\r\nRetry-After: 2\r\n") && draining.hasSuffix("\r\n\r\ndraining\n"), draining)
        let upgrade = try curl([
            "-H", "Connection: Upgrade", "-H", "Upgrade: purr", "-H", "Purr-Request: MEOW", "-H", "Purr-Version: 0.1.2",
            "http://127.0.0.1:\(victim.port)/echo",
        ])
        XCTAssertTrue(upgrade.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), upgrade)
        XCTAssertTrue(upgrade.contains("\r\nRetry-After: 2\r\n") && upgrade.hasSuffix("\r\n\r\ndraining\n"), upgrade)

        XCTAssertTrue(TestKit.poll { haproxy.status(of: victimName)?.hasPrefix("DOWN") == true }, "\((try? haproxy.rows()) ?? [:])")
        let markedDown = ContinuousClock.now - drainedAt
        let okAtDown = load.now.echoed
        XCTAssertTrue(TestKit.poll { load.now.echoed >= okAtDown + 20 }, "connections go on after the drain: \(load.now)")
        // From now on nothing reaches the drained server (health checks are not connections).
        let before = try stats(victim)
        XCTAssertTrue(before.server.draining)
        let okBefore = load.now.echoed
        XCTAssertTrue(TestKit.poll { load.now.echoed >= okBefore + 20 }, "\(load.now)")
        load.stop()
        let after = try stats(victim)
        XCTAssertEqual(after.totals.total, before.totals.total, "a connection reached the drained server after HAProxy took it out")
        XCTAssertEqual(load.now.failed, 0, "the app saw failed connections: \(load.now)")

        // The relays on the drained server finish byte-exact; then it exits, the others keep serving.
        let payload = TestKit.randomPayload(count: 512 * 1024, seed: 99)
        for socket in long {
            try socket.write(payload)
            XCTAssertEqual(try socket.read(exactly: payload.count), payload)
            socket.close()
        }
        XCTAssertEqual(victim.process.waitForExit(timeout: 20), 0, victim.process.stderr)
        for (index, server) in servers.enumerated() where index != victimIndex {
            XCTAssertTrue(server.process.process.isRunning)
        }
        XCTAssertTrue(Self.roundTrip(port: clientPort, payload: TestKit.randomPayload(count: 4096, seed: 7)))

        let backend = try haproxy.rows()["BACKEND"] ?? [:]
        print(
            "ScaleOutTests figures: \(load.now.echoed) connections during the drain, 0 failed; HAProxy marked the drained server"
                + " DOWN \(markedDown) after the drain (checks every 200 ms); the drained server answered"
                + " \((after.totals.failures["shutdown"] ?? 1) - 1) of the app's upgrades 503 meanwhile, HAProxy retried"
                + " \(backend["wretr"] ?? "?") and redispatched \(backend["wredis"] ?? "?")")
        await target.stop()
    }

    /// Before HAProxy's check sees the drain (here: never, checks every hour), an upgrade the draining
    /// server answers 503 is retried on the other one (`retry-on 503`): the app still sees no failure,
    /// early bytes included, byte-exact.
    func testHAProxyRetriesAnUpgradeTheDrainingServerAnswers503() async throws {
        guard FileManager.default.isExecutableFile(atPath: HAProxyProcess.binary) else {
            throw XCTSkip("haproxy is not installed (scripts/deps.sh test installs it)")
        }
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let servers = try (0..<2).map { _ in try startServer(target: target.port) }
        defer { for server in servers { server.process.stop() } }
        let haproxy = try HAProxyProcess(servers: servers.map(\.port), balance: "roundrobin", checkInterval: "1h")
        defer { haproxy.stop() }
        let clientPort = RunningProcess.freePort()
        let client = try RunningProcess(
            "purr", ["connect", "http://127.0.0.1:\(haproxy.port)/echo", "--listen", "127.0.0.1:\(clientPort)", "--log-level", "warning"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening"), client.stderr)
        for index in 0..<4 {
            XCTAssertTrue(Self.roundTrip(port: clientPort, payload: TestKit.randomPayload(count: 4096, seed: UInt64(index))))
        }

        // A relay straight to the first server keeps it draining (instead of exiting at once).
        let held = try BlockingSocket(port: servers[0].port, timeout: 15)
        defer { held.close() }
        XCTAssertTrue(try held.upgrade(path: "/echo", port: servers[0].port).head.hasPrefix("HTTP/1.1 101 "))
        let drain = try RunningProcess.run(
            "purr-server", ["drain", "--admin", "127.0.0.1:\(servers[0].adminPort)"], environment: ["PURR_ADMIN_TOKEN": Self.adminToken])
        XCTAssertEqual(drain.status, 0, drain.stderr)

        for index in 0..<20 {
            XCTAssertTrue(
                Self.roundTrip(port: clientPort, payload: TestKit.randomPayload(count: 64 * 1024, seed: UInt64(100 + index))),
                "connection \(index) failed")
        }
        let refused = try stats(servers[0]).totals.failures["shutdown"] ?? 0
        XCTAssertGreaterThan(refused, 0, "round robin sent upgrades to the draining server")
        let backend = try haproxy.rows()["BACKEND"] ?? [:]
        XCTAssertGreaterThan(Int(backend["wretr"] ?? "") ?? 0, 0, "\(backend)")
        XCTAssertEqual(haproxy.status(of: "s1"), "UP", "the check has not run: the retries did the work")
        print(
            "ScaleOutTests figures: 20 connections while HAProxy still thought the drained server UP: \(refused) got its 503, all retried (wretr \(backend["wretr"] ?? "?"), wredis \(backend["wredis"] ?? "?")), 0 failed"
        )
        held.close()
        XCTAssertEqual(servers[0].process.waitForExit(timeout: 20), 0, servers[0].process.stderr)
        await target.stop()
    }
}

extension ScaleOutTests {
    /// A rolling restart behind HAProxy under about 20 new connections a second: each server in turn is
    /// drained, exits once its relay ends, and starts again on the same port; HAProxy takes it back
    /// once `/healthz` says 200. The app sees no failed connection, and the relay that finished within
    /// the drain lost no byte.
    func testRollingRestartBehindHAProxyLosesNothing() async throws {
        guard FileManager.default.isExecutableFile(atPath: HAProxyProcess.binary) else {
            throw XCTSkip("haproxy is not installed (scripts/deps.sh test installs it)")
        }
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        var servers = try (0..<2).map { _ in try startServer(target: target.port) }
        defer { for server in servers { server.process.stop() } }
        let haproxy = try HAProxyProcess(servers: servers.map(\.port))
        defer { haproxy.stop() }
        XCTAssertTrue(TestKit.poll { ["s1", "s2"].allSatisfy { haproxy.status(of: $0) == "UP" } })
        let clientPort = RunningProcess.freePort()
        let client = try RunningProcess(
            "purr", ["connect", "http://127.0.0.1:\(haproxy.port)/echo", "--listen", "127.0.0.1:\(clientPort)", "--log-level", "warning"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening"), client.stderr)

        let load = Self.load(port: clientPort)
        defer { load.stop() }
        for index in servers.indices {
            let old = servers[index]
            let name = "s\(index + 1)"
            // A relay straight to this server, mid-transfer when the drain starts, finished after it.
            let relay = try BlockingSocket(port: old.port, timeout: 15)
            XCTAssertTrue(try relay.upgrade(path: "/echo", port: old.port).head.hasPrefix("HTTP/1.1 101 "))
            let payload = TestKit.randomPayload(count: 1 << 20, seed: UInt64(40 + index))
            try relay.write(Array(payload[..<(1 << 19)]))
            let drain = try RunningProcess.run(
                "purr-server", ["drain", "--admin", "127.0.0.1:\(old.adminPort)"], environment: ["PURR_ADMIN_TOKEN": Self.adminToken])
            XCTAssertEqual(drain.status, 0, drain.stderr)
            XCTAssertTrue(TestKit.poll { haproxy.status(of: name)?.hasPrefix("DOWN") == true })
            // New connections meanwhile all go to the other server.
            let okDown = load.now.echoed
            XCTAssertTrue(TestKit.poll { load.now.echoed >= okDown + 10 }, "\(load.now)")
            try relay.write(Array(payload[(1 << 19)...]))
            relay.shutdownWrite()
            XCTAssertEqual(TestKit.sha256(try relay.readToEnd()), TestKit.sha256(payload), "the relay through the drain lost bytes")
            relay.close()
            XCTAssertEqual(old.process.waitForExit(timeout: 20), 0, old.process.stderr)
            servers[index] = try startServer(target: target.port, port: old.port, adminPort: old.adminPort)
            XCTAssertTrue(TestKit.poll(timeout: 15) { haproxy.status(of: name) == "UP" }, "\((try? haproxy.rows()) ?? [:])")
            let okNow = load.now.echoed
            XCTAssertTrue(TestKit.poll { load.now.echoed >= okNow + 10 }, "\(load.now)")
        }
        load.stop()
        XCTAssertEqual(load.now.failed, 0, "the app saw failed connections: \(load.now)")
        XCTAssertGreaterThanOrEqual(load.now.echoed, 40)
        for server in servers { XCTAssertGreaterThan(try stats(server).totals.total, 0, "the restarted server takes connections again") }
        print("ScaleOutTests figures: rolling restart of 2 servers behind HAProxy, \(load.now.echoed) connections at about 20/s, 0 failed")
        await target.stop()
    }
}
