import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// Draining against the built `purr-server`: SIGTERM and `purr-server drain` (the admin `POST /drain`)
/// keep the listener open and answer new upgrades 503 with `Retry-After`, `/healthz` turns 503, live
/// relays go on, and the process exits when the last one ends.
final class DrainTests: XCTestCase {
    let group = InProcessServer.group

    struct Server {
        let process: RunningProcess
        let port: Int
        let adminPort: Int
    }

    func startServer(target: Int, extra: [String] = [], environment: [String: String] = [:]) throws -> Server {
        let port = RunningProcess.freePort()
        let adminPort = RunningProcess.freePort()
        let process = try RunningProcess(
            "purr-server",
            ["--listen", "127.0.0.1:\(port)", "--route", "/echo=127.0.0.1:\(target)", "--admin-port", "\(adminPort)"] + extra,
            environment: environment)
        XCTAssertTrue(process.waitForOutput("admin on"), process.stderr)
        return Server(process: process, port: port, adminPort: adminPort)
    }

    /// A relay through the server, checked byte-exact once.
    func openRelay(port: Int) throws -> BlockingSocket {
        let socket = try BlockingSocket(port: port, timeout: 15)
        let (head, _) = try socket.upgrade(path: "/echo", port: port)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101 "), head)
        try socket.write("before")
        XCTAssertEqual(try socket.read(exactly: 6), Array("before".utf8))
        return socket
    }

    func request(_ text: String, port: Int) throws -> (status: Int, head: String, body: String) {
        let socket = try BlockingSocket(port: port, timeout: 15)
        defer { socket.close() }
        try socket.write(text)
        return try socket.readResponse()
    }

    func health(port: Int) throws -> (status: Int, head: String, body: String) {
        try request("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", port: port)
    }

    func stats(adminPort: Int, token: String? = nil) throws -> StatsSnapshot {
        let socket = try BlockingSocket(port: adminPort)
        defer { socket.close() }
        var text = "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let token { text += "Authorization: Bearer \(token)\r\n" }
        try socket.write(text + "\r\n")
        let answer = try socket.readResponse()
        XCTAssertEqual(answer.status, 200, answer.body)
        return try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(answer.body.utf8))
    }

    func testSignalKeepsListeningAnswers503WithRetryAfterAndExitsWhenTheLastRelayEnds() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try startServer(target: target.port, extra: ["--drain-timeout", "30", "--retry-after", "3"])
        defer { server.process.stop() }
        let ok = try health(port: server.port)
        XCTAssertEqual(ok.status, 200, ok.head)
        XCTAssertEqual(ok.body, "ok\n")
        let relay = try openRelay(port: server.port)

        kill(server.process.pid, SIGTERM)
        XCTAssertTrue(server.process.waitForOutput("draining: 1 relays live, timeout 30s"), server.process.stderr)
        // The listener is still there: a new upgrade is told where things stand instead of a refused connect.
        let refused = try BlockingSocket.refusal(path: "/echo", port: server.port)
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.body, "draining")
        let answer = try request(UpgradeRequest(path: "/echo", host: "127.0.0.1:\(server.port)").encoded(), port: server.port)
        XCTAssertTrue(answer.head.contains("\r\nRetry-After: 3\r\n"), answer.head)
        let draining = try health(port: server.port)
        XCTAssertEqual(draining.status, 503, draining.head)
        XCTAssertTrue(draining.head.contains("\r\nRetry-After: 3\r\n"), draining.head)
        XCTAssertEqual(draining.body, "draining\n")
        // The admin endpoint stays up while draining and says so; the refusals are counted as shutdown.
        let snapshot = try stats(adminPort: server.adminPort)
        XCTAssertTrue(snapshot.server.draining)
        XCTAssertEqual(snapshot.totals.failures["shutdown"], 2)
        XCTAssertEqual(snapshot.connections.filter { $0.state == .relaying }.count, 1)

        // The live relay goes on, byte-exact, and the process waits for it.
        let payload = TestKit.randomPayload(count: 256 * 1024)
        try relay.write(payload)
        XCTAssertEqual(try relay.read(exactly: payload.count), payload)
        XCTAssertTrue(server.process.process.isRunning)
        relay.shutdownWrite()
        XCTAssertEqual(try relay.readToEnd(), [])
        relay.close()
        XCTAssertEqual(server.process.waitForExit(timeout: 15), 0, server.process.stderr)
        XCTAssertFalse(server.process.stderr.contains("closed relays still open"), server.process.stderr)
        await target.stop()
    }

    func testDrainCommandAsksThroughTheAdminEndpoint() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let token = "adm1n-\(UUID().uuidString)"
        let server = try startServer(target: target.port, extra: ["--drain-timeout", "30"], environment: ["PURR_ADMIN_TOKEN": token])
        defer { server.process.stop() }
        let relay = try openRelay(port: server.port)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("purr-drain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let tokenFile = folder.appendingPathComponent("admin.token").path
        let wrongFile = folder.appendingPathComponent("wrong.token").path
        try (token + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try "guess\n".write(toFile: wrongFile, atomically: true, encoding: .utf8)
        let admin = "127.0.0.1:\(server.adminPort)"

        // Refusals and mistakes: one line each, 1 for what the server or the network said, 2 for flags.
        let cases: [([String], [String: String], Int32, String)] = [
            (["--admin", admin], [:], 1, "refused: 401 missing token"),
            (["--admin", admin, "--admin-token-file", wrongFile], [:], 1, "refused: 401 wrong token"),
            (["--admin", admin], ["PURR_ADMIN_TOKEN": "guess"], 1, "refused: 401 wrong token"),
            (
                ["--admin", "127.0.0.1:\(RunningProcess.freePort())", "--admin-token-file", tokenFile], [:], 1,
                "cannot reach the admin endpoint"
            ),
            (["--admin", "nonsense"], [:], 2, "--admin:"),
            (["--admin", admin, "--admin-token-file", "/nonexistent"], [:], 2, "--admin-token-file /nonexistent: cannot read"),
        ]
        for (arguments, environment, status, expected) in cases {
            var clean = environment
            if clean["PURR_ADMIN_TOKEN"] == nil { clean["PURR_ADMIN_TOKEN"] = "" }
            let run = try RunningProcess.run("purr-server", ["drain"] + arguments, environment: clean)
            XCTAssertEqual(run.status, status, "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(arguments): one line, got \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(expected), "\(arguments): \(run.stderr) should contain \(expected)")
        }
        XCTAssertFalse(try stats(adminPort: server.adminPort, token: token).server.draining, "a refused drain changes nothing")
        XCTAssertEqual(try health(port: server.port).status, 200)

        let first = try RunningProcess.run("purr-server", ["drain", "--admin", admin, "--admin-token-file", tokenFile])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(first.stdout, "\(admin): draining: 1 relay live, new upgrades get 503, exit when they end or after 30 s\n")
        let second = try RunningProcess.run("purr-server", ["drain", "--admin", admin], environment: ["PURR_ADMIN_TOKEN": token])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout, "\(admin): already draining: 1 relay live\n")
        XCTAssertTrue(server.process.waitForOutput("draining: 1 relays live"), server.process.stderr)
        XCTAssertEqual(try BlockingSocket.refusal(path: "/echo", port: server.port).status, 503)
        XCTAssertEqual(try health(port: server.port).status, 503)
        XCTAssertTrue(try stats(adminPort: server.adminPort, token: token).server.draining)

        try relay.write("during drain")
        XCTAssertEqual(try relay.read(exactly: 12), Array("during drain".utf8))
        XCTAssertTrue(server.process.process.isRunning, "a drain waits for the live relay")
        relay.close()
        XCTAssertEqual(server.process.waitForExit(timeout: 15), 0, server.process.stderr)
        await target.stop()
    }

    /// `/healthz` answers on a TLS listener too (curl checks the certificate with the test CA).
    func testHealthzOverTLS() throws {
        let certificates = try TestCertificates.make()
        let port = RunningProcess.freePort()
        let process = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(port)", "--route", "/echo=127.0.0.1:9", "--tls-cert", certificates.certificateFile, "--tls-key",
                certificates.keyFile,
            ])
        defer { process.stop() }
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let run = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-si", "--max-time", "10", "--cacert", certificates.caFile, "https://127.0.0.1:\(port)/healthz"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("HTTP/1.1 200 OK\r\n") && run.stdout.hasSuffix("\r\n\r\nok\n"), run.stdout)
    }

    /// At drain start the free held requests of a `[[reverse]]` entry are closed, so `purr expose`
    /// registers again; the draining server answers that 503 and the exposing client keeps trying
    /// (elsewhere, in a real layout) instead of staying parked on a server that is leaving.
    /// A purr-server with an admin port, a route to `target` and the `[[reverse]]` entry `web`, and
    /// `purr expose` registered there for `target` (`pool` held requests; nil: its default).
    func exposedBehindServer(target: Int, settings: String, pool: Int? = nil) throws -> (RunningProcess, Int, Int, RunningProcess) {
        let published = RunningProcess.freePort()
        let adminPort = RunningProcess.freePort()
        let (server, port) = try RunningProcess.purrServer(
            config: """
                \(settings)
                [admin]
                port = \(adminPort)
                [[routes]]
                path = "/echo"
                target = "127.0.0.1:\(target)"
                [[reverse]]
                name = "web"
                path = "/rev/web"
                token = "rev-token"
                listen = "127.0.0.1:\(published)"
                """)
        XCTAssertTrue(server.waitForOutput("admin on"), server.stderr)
        let exposer: RunningProcess
        do {
            exposer = try RunningProcess(
                "purr",
                ["expose", "http://127.0.0.1:\(port)/rev/web", "--to", "127.0.0.1:\(target)"] + (pool.map { ["--pool", "\($0)"] } ?? []),
                environment: ["PURR_TOKEN": "rev-token"])
        } catch {
            server.stop()
            throw error
        }
        XCTAssertTrue(exposer.waitForOutput("exposed as web"), exposer.stderr)
        return (server, port, adminPort, exposer)
    }

    func testDrainReleasesHeldReverseRegistrations() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port, adminPort, exposer) = try exposedBehindServer(target: target.port, settings: "drain_timeout = 30")
        defer { server.stop() }
        defer { exposer.stop() }
        XCTAssertTrue(TestKit.poll { ((try? self.stats(adminPort: adminPort))?.reverse?.first?.held ?? 0) > 0 })
        let relay = try openRelay(port: port)  // keeps the server draining

        kill(server.pid, SIGTERM)
        XCTAssertTrue(server.waitForOutput("draining: 1 relays live"), server.stderr)
        XCTAssertTrue(
            TestKit.poll { ((try? self.stats(adminPort: adminPort))?.reverse?.first?.held ?? -1) == 0 }, "held requests released")
        XCTAssertTrue(server.waitForOutput("reason=draining"), "the registration after the release gets 503: \(server.stderr)")
        XCTAssertTrue(exposer.process.isRunning, "a 503 is worth retrying: \(exposer.stderr)")
        relay.close()
        XCTAssertEqual(server.waitForExit(timeout: 15), 0, server.stderr)
        await target.stop()
    }

    /// A draining server says when to come back (`Retry-After`); `purr expose` waits that long before it
    /// registers again, and says so once (attack finding F10: it retried on its own backoff, about 19
    /// refusal lines in 8 s).
    func testAnExposerWaitsOutADrainingServersRetryAfter() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port, adminPort, exposer) = try exposedBehindServer(
            target: target.port, settings: "drain_timeout = 60\nretry_after = 30", pool: 4)
        defer { server.stop() }
        defer { exposer.stop() }
        XCTAssertTrue(TestKit.poll { ((try? self.stats(adminPort: adminPort))?.reverse?.first?.held ?? 0) >= 4 })
        let relay = try openRelay(port: port)  // keeps the server draining
        defer { relay.close() }

        kill(server.pid, SIGTERM)
        XCTAssertTrue(server.waitForOutput("draining: 1 relays live"), server.stderr)
        func refusals() -> Int { server.stderr.components(separatedBy: "reason=draining").count - 1 }
        // Each of the four places registers again once its held request is released, and is refused.
        XCTAssertTrue(TestKit.poll(timeout: 10) { refusals() >= 4 }, server.stderr)
        let settled = refusals()
        XCTAssertTrue(
            TestKit.holds(for: 4) { refusals() <= max(settled, 4) },
            "no registration before the 30 s Retry-After is over: \(refusals()) refusals, \(exposer.stderr)")
        XCTAssertEqual(
            exposer.stderr.components(separatedBy: "registration refused").count - 1, 1, "one line says it: \(exposer.stderr)")
        XCTAssertTrue(exposer.process.isRunning)
        await target.stop()
    }

    /// `/healthz` belongs to the health check: a route there is a configuration error, one line, exit 2.
    func testHealthzIsReservedAndRetryAfterIsChecked() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("purr-drain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let toml = folder.appendingPathComponent("server.toml").path
        try "[[routes]]\npath = \"/healthz\"\ntarget = \"127.0.0.1:1\"\n".write(toFile: toml, atomically: true, encoding: .utf8)
        let badRetry = folder.appendingPathComponent("retry.toml").path
        try "retry_after = -1\n".write(toFile: badRetry, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--route", "/healthz=127.0.0.1:1"], "route /healthz: /healthz is reserved for the health check"),
            (["--config", toml], "\(toml): route /healthz: /healthz is reserved for the health check"),
            (["--retry-after", "4000"], "--retry-after: 4000 is out of range 0...3600 seconds"),
            (["--config", badRetry], "retry_after"),
        ]
        for (arguments, expected) in cases {
            let run = try RunningProcess.run("purr-server", ["--listen", "127.0.0.1:0"] + arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(arguments): one line, got \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(expected), "\(arguments): \(run.stderr) should contain \(expected)")
        }
    }
}
