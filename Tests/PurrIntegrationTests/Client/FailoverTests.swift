import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

/// Several servers per tunnel with the built programs: two `purr-server`s and `purr connect URL URL`
/// (or the engine, where its snapshot is what is checked). A server killed, draining, refusing with a
/// 4xx, refusing after reading the early bytes, and coming back.
final class FailoverTests: XCTestCase {
    let group = InProcessServer.group

    /// A built purr-server with its admin endpoint.
    struct Server {
        let process: RunningProcess
        let port: Int
        let admin: Int
        func url(_ path: String = "/t") -> String { "http://127.0.0.1:\(port)\(path)" }
    }

    /// A purr-server on `port` (a free one by default): `/t` to `target`, or the routes of `config`.
    func startServer(target: Int? = nil, config: String? = nil, port: Int? = nil, arguments: [String] = []) throws -> Server {
        let port = port ?? RunningProcess.freePort()
        let admin = RunningProcess.freePort()
        var all = ["--listen", "127.0.0.1:\(port)", "--admin-port", "\(admin)"] + arguments
        if let target { all += ["--route", "/t=127.0.0.1:\(target)"] }
        if let config {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("failover-\(UUID().uuidString).toml")
            try config.write(to: file, atomically: true, encoding: .utf8)
            all += ["--config", file.path]
        }
        let process = try RunningProcess("purr-server", all)
        XCTAssertTrue(process.waitForOutput("listening"), process.stderr)
        return Server(process: process, port: port, admin: admin)
    }

    /// A server's `/stats` totals: connections relayed, and refusals by reason.
    func totals(_ server: Server) throws -> (total: Int, failures: [String: Int]) {
        let socket = try BlockingSocket(port: server.admin)
        defer { socket.close() }
        try socket.write("GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try socket.readResponse()
        let json = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        let totals = try XCTUnwrap(json?["totals"] as? [String: Any], response.body)
        return (totals["total"] as? Int ?? -1, totals["failures"] as? [String: Int] ?? [:])
    }

    /// `purr connect` with these URLs, listening; its process and port.
    func startClient(_ urls: [String], extra: [String] = []) throws -> (RunningProcess, Int) {
        let process = try RunningProcess("purr", ["connect"] + urls + extra)
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        return (process, try XCTUnwrap(Int(line.split(separator: ":").last!)))
    }

    /// One connection that stays open: a line echoed through it.
    func liveConnection(_ port: Int) throws -> BlockingSocket {
        let socket = try BlockingSocket(port: port, timeout: 10)
        try socket.write("live\n")
        XCTAssertEqual(try socket.read(exactly: 5), Array("live\n".utf8))
        return socket
    }

    // MARK: (a) kill -9

    func testKilledServerMovesNewConnectionsToTheOtherWithoutFailures() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let first = try startServer(target: target.port)
        let second = try startServer(target: target.port)
        defer { second.process.stop() }
        let (client, port) = try startClient([first.url(), second.url()])
        defer { client.stop() }
        let live = try liveConnection(port)
        defer { live.close() }
        XCTAssertEqual(try totals(first).total, 1, "failover: the first server takes connections while it is healthy")
        let load = LoadLoop { SustainedFaultTests.probe(port) }
        XCTAssertTrue(TestKit.poll(timeout: 20) { load.counts.withLock { $0.echoed } >= 20 }, "\(load.counts.withLock { $0 })")

        let beforeKill = load.counts.withLock { $0 }
        let killed = Date()
        kill(first.process.pid, SIGKILL)
        XCTAssertNotNil(first.process.waitForExit())
        XCTAssertTrue(TestKit.poll(timeout: 20) { load.counts.withLock { $0.echoed } > beforeKill.echoed })
        let firstSuccess = Date().timeIntervalSince(killed)
        let afterFailover = load.counts.withLock { $0 }
        XCTAssertTrue(TestKit.poll(timeout: 30) { load.counts.withLock { $0.echoed } >= afterFailover.echoed + 100 })
        load.stop()
        let end = load.counts.withLock { $0 }
        XCTAssertEqual(
            end.refused + end.hung + end.wrong, afterFailover.refused + afterFailover.hung + afterFailover.wrong,
            "no new connection failed after the first failover: \(afterFailover) then \(end)")
        XCTAssertLessThanOrEqual(
            afterFailover.refused + afterFailover.hung - beforeKill.refused - beforeKill.hung, 1,
            "at most the connection relaying at the kill ended: \(beforeKill) then \(afterFailover)")
        XCTAssertEqual(end.wrong, 0)
        XCTAssertGreaterThanOrEqual(try totals(second).total, 100)
        print("FailoverTests: kill -9 to the first connection relayed by the other server: \(String(format: "%.3f", firstSuccess)) s")

        // The connection that was on it ends, and the log says why and where.
        let ended = (try? live.readToEnd()) ?? []
        XCTAssertEqual(ended, [], "the live connection ended with the server")
        live.close()
        let closedLine = { client.stderr.split(separator: "\n").first { $0.contains("purr: conn=1 ") && $0.contains("reason=") } }
        XCTAssertTrue(TestKit.poll(timeout: 20) { closedLine() != nil }, client.stderr)
        let line = String(closedLine() ?? "")
        XCTAssertTrue(line.contains("url=\(first.url())"), line)
        print("FailoverTests: the connection on the killed server: \(line)")
        XCTAssertTrue(client.waitForOutput("server down"), client.stderr)
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await target.stop()
    }

    // MARK: (b) draining

    func testDrainingServerSendsNewConnectionsToTheOtherAtOnce() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let first = try startServer(target: target.port, arguments: ["--drain-timeout", "60"])
        defer { first.process.stop() }
        let second = try startServer(target: target.port)
        defer { second.process.stop() }
        let (client, port) = try startClient([first.url(), second.url()])
        defer { client.stop() }
        let live = try liveConnection(port)  // keeps the first server draining instead of gone
        let load = LoadLoop { SustainedFaultTests.probe(port) }
        XCTAssertTrue(TestKit.poll(timeout: 20) { load.counts.withLock { $0.echoed } >= 20 })
        let onFirst = try totals(first).total
        XCTAssertGreaterThanOrEqual(onFirst, 20)

        kill(first.process.pid, SIGTERM)
        XCTAssertTrue(
            TestKit.poll(timeout: 20) {
                (try? self.totals(first).failures["draining"]) ?? 0 > 0 || client.stderr.contains("server draining")
            },
            client.stderr)
        let atDrain = load.counts.withLock { $0 }
        XCTAssertTrue(TestKit.poll(timeout: 30) { load.counts.withLock { $0.echoed } >= atDrain.echoed + 100 })
        load.stop()
        let end = load.counts.withLock { $0 }
        XCTAssertEqual(end.refused + end.hung + end.wrong, 0, "no connection failed: \(end)")
        XCTAssertTrue(first.process.process.isRunning, "still draining: its live relay goes on")
        XCTAssertTrue(client.waitForOutput("server draining"), client.stderr)
        XCTAssertLessThanOrEqual(try totals(first).total, onFirst + 2, "new connections went to the other at once")
        XCTAssertGreaterThanOrEqual(try totals(second).total, 100)
        // The relay on the draining server still works, then ends; the server then exits.
        try live.write("still\n")
        XCTAssertEqual(try live.read(exactly: 6), Array("still\n".utf8))
        live.close()
        XCTAssertEqual(first.process.waitForExit(timeout: 30), 0, first.process.stderr)
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await target.stop()
    }

    // MARK: (c) spread

    func testSpreadSharesAThousandConnectionsWithinTwentyPercent() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let first = try startServer(target: target.port)
        defer { first.process.stop() }
        let second = try startServer(target: target.port)
        defer { second.process.stop() }
        let (client, port) = try startClient([first.url(), second.url()], extra: ["--servers", "spread"])
        defer { client.stop() }
        let outcomes = Mutex<[LoadLoop.Outcome]>([])
        let done = DispatchGroup()
        for _ in 0..<4 {
            done.enter()
            Thread {
                defer { done.leave() }
                for _ in 0..<250 {
                    let outcome = SustainedFaultTests.probe(port)
                    outcomes.withLock { $0.append(outcome) }
                }
            }.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(outcomes.withLock { $0.filter { $0 == .echoed }.count }, 1000)
        let counts = [try totals(first).total, try totals(second).total]
        XCTAssertEqual(counts.reduce(0, +), 1000, "\(counts)")
        XCTAssertGreaterThanOrEqual(Double(counts.min()!) / Double(counts.max()!), 0.8, "within 20 %: \(counts)")
        print("FailoverTests: spread over 1000 connections: \(counts)")
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await target.stop()
    }

    // MARK: (d) 4xx

    func testRefusalsAreAnswersTheOtherServerNeverSees() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let first = try startServer(
            config: """
                [[routes]]
                path = "/t"
                target = "127.0.0.1:\(target.port)"
                token = "secret"
                """)
        defer { first.process.stop() }
        let second = try startServer(target: target.port, arguments: ["--route", "/u=127.0.0.1:\(target.port)"])
        defer { second.process.stop() }
        for (path, words) in [("/t", "401"), ("/u", "404")] {
            let (client, port) = try startClient([first.url(path), second.url(path)])
            defer { client.stop() }
            for _ in 0..<3 {
                XCTAssertEqual(SustainedFaultTests.probe(port), .refused, path)
            }
            XCTAssertTrue(client.waitForOutput(words), client.stderr)
            XCTAssertFalse(client.stderr.contains("trying the next server"), client.stderr)
            XCTAssertFalse(client.stderr.contains("every server failed"), client.stderr)
            XCTAssertEqual(client.signal(SIGTERM), 0)
        }
        let seen = try totals(second)
        XCTAssertEqual(seen.total, 0, "the second server never saw a connection")
        XCTAssertEqual(seen.failures, [:], "nor a refusal")
        XCTAssertEqual(try totals(first).failures.values.reduce(0, +), 6, "the first answered each one")
        await target.stop()
    }

    // MARK: (e) early bytes

    func testEarlyBytesArriveByteExactAfterAFailover() async throws {
        let refusing = try await TestTarget.start(.echo(banner: nil), group: group)
        let echo = try await TestTarget.start(.echo(banner: nil), group: group)
        defer { Task { await echo.stop() } }
        let first = try startServer(target: refusing.port)
        defer { first.process.stop() }
        let second = try startServer(target: echo.port)
        defer { second.process.stop() }
        let (client, port) = try startClient([first.url(), second.url()], extra: ["--log-level", "debug"])
        defer { client.stop() }
        // One connection through the first server: its 101 says it keeps early data.
        XCTAssertEqual(SustainedFaultTests.probe(port), .echoed)
        // Its target goes: the first server reads the request and the early bytes, then answers 502.
        await refusing.stop()
        for round in 0..<3 {
            let payload = TestKit.randomPayload(count: 48 * 1024, seed: UInt64(round + 1))
            let app = try BlockingSocket(port: port, timeout: 10)
            try app.write(payload)
            app.shutdownWrite()
            let back = try app.readToEnd()
            app.close()
            XCTAssertEqual(back.count, payload.count, "round \(round)")
            XCTAssertTrue(back == payload, "round \(round): the bytes differ")
        }
        let refused = try totals(first).failures
        XCTAssertGreaterThanOrEqual(refused.values.reduce(0, +), 2, "the first server refused (502) after reading: \(refused)")
        XCTAssertTrue(client.stderr.contains("trying the next server"), client.stderr)
        XCTAssertEqual(client.signal(SIGTERM), 0)
    }

    // MARK: (f) back again

    func testAServerThatComesBackTakesConnectionsAgain() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let firstPort = RunningProcess.freePort()
        var first = try startServer(target: target.port, port: firstPort)
        let second = try startServer(target: target.port)
        defer { second.process.stop() }
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        var config = TunnelConfig(name: "two", url: try ServerURL(parsing: first.url()))
        config.moreServers = [TunnelServer(url: try ServerURL(parsing: second.url()))]
        let tunnel = try engine.add(config)
        let opened = await tunnel.open()
        XCTAssertEqual(opened, .listening)
        let port = try XCTUnwrap(tunnel.snapshot.port)
        XCTAssertEqual(tunnel.snapshot.servers.map(\.health), [.up, .up])

        let live = try liveConnection(port)
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.connections.first?.server == 0 }, "\(tunnel.snapshot.connections)")
        kill(first.process.pid, SIGKILL)
        XCTAssertNotNil(first.process.waitForExit())
        _ = try? live.readToEnd()
        live.close()
        for _ in 0..<5 { XCTAssertEqual(SustainedFaultTests.probe(port), .echoed) }
        let down = tunnel.snapshot.servers
        XCTAssertEqual(down.map(\.health), [.down, .up], "\(down)")
        XCTAssertNotNil(down[0].retryAt)
        XCTAssertNotNil(down[0].lastError)
        XCTAssertGreaterThanOrEqual(down[1].total, 5)
        let live2 = try liveConnection(port)
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.connections.first?.server == 1 }, "\(tunnel.snapshot.connections)")
        live2.close()

        // Back on the same port: a probe brings it back, and new connections go to it again.
        first = try startServer(target: target.port, port: firstPort)
        defer { first.process.stop() }
        XCTAssertTrue(TestKit.poll(timeout: 20) { tunnel.snapshot.servers.first?.health == .up }, "\(tunnel.snapshot.servers)")
        for _ in 0..<5 { XCTAssertEqual(SustainedFaultTests.probe(port), .echoed) }
        XCTAssertEqual(try totals(first).total, 5, "the first server is first again")
        await engine.shutdown()
        await target.stop()
    }

    // MARK: pools

    func testEachServerHasAPoolThatPausesWhileItIsDown() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let firstPort = RunningProcess.freePort()
        var first = try startServer(target: target.port, port: firstPort)
        let second = try startServer(target: target.port)
        defer { second.process.stop() }
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        var config = TunnelConfig(name: "pooled", url: try ServerURL(parsing: first.url()))
        config.moreServers = [TunnelServer(url: try ServerURL(parsing: second.url()))]
        config.pool = 2
        let tunnel = try engine.add(config)
        let opened = await tunnel.open()
        XCTAssertEqual(opened, .listening)
        let port = try XCTUnwrap(tunnel.snapshot.port)
        XCTAssertTrue(
            TestKit.poll(timeout: 20) { tunnel.snapshot.pool?.idle == 4 },
            "two ready per server: \(String(describing: tunnel.snapshot.pool))")

        kill(first.process.pid, SIGKILL)
        XCTAssertNotNil(first.process.waitForExit())
        for _ in 0..<10 { XCTAssertEqual(SustainedFaultTests.probe(port), .echoed) }
        XCTAssertEqual(tunnel.snapshot.servers.map(\.health), [.down, .up])
        let used = tunnel.snapshot.pool?.used ?? 0
        XCTAssertGreaterThanOrEqual(used, 8, "failover takes the other server's ready connections")
        // Paused: while the first is down its pool tries nothing, and holds nothing.
        XCTAssertTrue(TestKit.poll(timeout: 20) { tunnel.snapshot.pool?.idle == 2 }, "\(String(describing: tunnel.snapshot.pool))")
        let failedWhileDown = tunnel.snapshot.pool?.failed ?? 0
        XCTAssertTrue(
            TestKit.holds(for: 1) { (tunnel.snapshot.pool?.failed ?? 0) - failedWhileDown <= 1 },
            "no refills against a down server: \(String(describing: tunnel.snapshot.pool))")

        first = try startServer(target: target.port, port: firstPort)
        defer { first.process.stop() }
        XCTAssertTrue(TestKit.poll(timeout: 20) { tunnel.snapshot.servers.first?.health == .up }, "\(tunnel.snapshot.servers)")
        XCTAssertTrue(TestKit.poll(timeout: 20) { tunnel.snapshot.pool?.idle == 4 }, "its pool fills again")
        let before = try totals(first).total
        for _ in 0..<3 { XCTAssertEqual(SustainedFaultTests.probe(port), .echoed) }
        XCTAssertTrue(TestKit.poll { (try? self.totals(first).total) == before + 3 }, "new connections go to the first again")
        await engine.shutdown()
        await target.stop()
    }

    // MARK: dynamic

    func testADynamicTunnelFailsOverAndItsSOCKSReplyWaitsForTheOutcome() async throws {
        let origin = try await TestTarget.start(.echo(banner: "banner-12345"), group: group)
        let server = try startServer(
            config: """
                [[routes]]
                path = "/t/{host}/{port}"
                target = "{host}:{port}"
                allow = ["127.0.0.1:*"]
                """)
        defer { server.process.stop() }
        let dead = RunningProcess.freePort()  // nothing listens there
        let (client, port) = try startClient(["--socks5", "http://127.0.0.1:\(dead)/t/{host}/{port}", server.url("/t/{host}/{port}")])
        defer { client.stop() }
        let replies = try DynamicPeers.socksProbe([
            "socks5://127.0.0.1:\(port)|127.0.0.1|\(origin.port)",
            "socks5://127.0.0.1:\(port)|127.0.0.1|\(origin.port)",
            "socks5://127.0.0.1:\(port)|10.9.8.7|80",
        ])
        XCTAssertEqual(replies.map { $0["code"] as? Int }, [0, 0, 2], "\(replies)")
        XCTAssertEqual(replies.first?["first"] as? String, "banner-12345", "\(replies)")
        XCTAssertTrue(client.stderr.contains("trying the next server"), client.stderr)
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await origin.stop()
    }

    // MARK: per-server settings, TLS, purr up

    /// Three TLS servers, each with its own CA and route token, in one tunnels.toml entry: the first is not
    /// trusted with the tunnel's CA file (a TLS failure moves on), the second takes the tunnel's token and
    /// CA file, the third its own; `purr up` opens it.
    func testPerServerTokenAndCAFromTunnelsFileWithATLSFailureMovingOn() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        var servers: [Server] = []
        var certificates: [TestCertificates] = []
        for name in ["untrusted", "second", "third"] {
            let made = try TestCertificates.make(name: name)
            certificates.append(made)
            servers.append(
                try startServer(
                    config: """
                        [[routes]]
                        path = "/t"
                        target = "127.0.0.1:\(target.port)"
                        token = "token-\(name)"
                        """, arguments: ["--tls-cert", made.certificateFile, "--tls-key", made.keyFile]))
        }
        defer { for server in servers { server.process.stop() } }
        let listen = RunningProcess.freePort()
        let https = servers.map { "https://127.0.0.1:\($0.port)/t" }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("failover-up-\(UUID().uuidString).toml")
        try """
        [[tunnels]]
        name = "pair"
        listen = "127.0.0.1:\(listen)"
        token = "token-second"
        ca_file = "\(certificates[1].caFile)"
        url = [
          { url = "\(https[0])", token = "token-untrusted" },
          { url = "\(https[1])" },
          { url = "\(https[2])", token = "token-third", ca_file = "\(certificates[2].caFile)" },
        ]
        """.write(to: file, atomically: true, encoding: .utf8)
        let up = try RunningProcess("purr", ["up", "--config", file.path, "pair"])
        defer { up.stop() }
        XCTAssertTrue(up.waitForOutput("pair: listening"), up.stderr)
        for _ in 0..<4 { XCTAssertEqual(SustainedFaultTests.probe(listen), .echoed) }
        XCTAssertTrue(up.waitForOutput("server down"), up.stderr)
        XCTAssertTrue(up.stderr.contains("certificate"), "the TLS failure is named: \(up.stderr)")
        XCTAssertEqual(try totals(servers[1]).total, 4, "the second server, with the tunnel's token and CA file")
        kill(servers[1].process.pid, SIGKILL)
        XCTAssertNotNil(servers[1].process.waitForExit())
        for _ in 0..<4 { XCTAssertEqual(SustainedFaultTests.probe(listen), .echoed) }
        XCTAssertEqual(try totals(servers[2]).total, 4, "the third, with its own token and CA file")
        XCTAssertEqual(up.signal(SIGTERM), 0)
        await target.stop()
    }

    // MARK: all down

    /// Every server down: the app's connection is still tried on each, in order, and fails with every
    /// server's reason in one line (the last server's reason not logged twice).
    func testWhenEveryServerFailsOneLineNamesEachReason() throws {
        let ports = (0..<3).map { _ in RunningProcess.freePort() }  // nothing listens there
        let urls = ports.map { "http://127.0.0.1:\($0)/t" }
        let (client, port) = try startClient(urls)
        defer { client.stop() }
        for round in 1...3 {
            XCTAssertEqual(SustainedFaultTests.probe(port), .refused)
            XCTAssertTrue(
                TestKit.poll { client.stderr.components(separatedBy: "every server failed").count - 1 == round }, client.stderr)
        }
        let lines = client.stderr.split(separator: "\n")
        let failed = lines.filter { $0.contains("every server failed") }
        for (url, port) in zip(urls, ports) {
            XCTAssertTrue(failed.allSatisfy { $0.contains("\(url): connection refused by 127.0.0.1:\(port)") }, "\(failed)")
        }
        XCTAssertEqual(lines.filter { $0.contains("trying the next server") }.count, 2 * 3, "two per connection, not three")
        XCTAssertEqual(client.signal(SIGTERM), 0)
    }

    // MARK: hung

    /// A server that accepts and never answers (stopped with SIGSTOP): new connections go to the other
    /// once its oldest attempt waited past the stall limit, long before the 15 s handshake timeout; the
    /// connection that waited on it moves on at that timeout, byte-exact.
    func testAHungServerIsPassedOverBeforeItsTimeout() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let first = try startServer(target: target.port)
        defer { first.process.stop() }
        let second = try startServer(target: target.port)
        defer { second.process.stop() }
        let (client, port) = try startClient([first.url(), second.url()])
        defer { client.stop() }
        XCTAssertEqual(SustainedFaultTests.probe(port), .echoed)
        kill(first.process.pid, SIGSTOP)
        defer { kill(first.process.pid, SIGCONT) }
        let stuck = Mutex<[UInt8]?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            defer { done.signal() }
            guard let socket = try? BlockingSocket(port: port, timeout: 40) else { return }
            try? socket.write("waited")
            socket.shutdownWrite()
            stuck.withLock { $0 = (try? socket.readToEnd()) ?? [] }
        }.start()
        // Under the handshake timeout (15 s): new connections already go to the other server.
        XCTAssertTrue(TestKit.poll(timeout: 10) { SustainedFaultTests.probe(port) == .echoed }, client.stderr)
        for _ in 0..<5 { XCTAssertEqual(SustainedFaultTests.probe(port), .echoed) }
        XCTAssertEqual(done.wait(timeout: .now() + 45), .success)
        XCTAssertEqual(stuck.withLock { $0 }, Array("waited".utf8), "the waiting connection moved on at the timeout")
        XCTAssertTrue(client.waitForOutput("trying the next server"), client.stderr)
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await target.stop()
    }

    /// A pool bigger than the server's per-peer limit: the connections it refuses at once make the pool
    /// back off (and say so once) instead of asking again many times a second.
    func testAPoolTheServerRefusesBacksOff() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try startServer(target: target.port, arguments: ["--max-connections-per-peer", "2"])
        defer { server.process.stop() }
        let (client, port) = try startClient([server.url()], extra: ["--pool", "8"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("warm pool: the server keeps refusing ready connections"), client.stderr)
        let before = try totals(server).failures.values.reduce(0, +)
        var after = before
        let backingOff = try TestKit.holds(for: 3, every: 0.25) {
            after = try totals(server).failures.values.reduce(0, +)
            return after - before <= 16
        }
        XCTAssertTrue(backingOff, "backing off (it was about 70 in 3 s): \(before) then \(after)")
        XCTAssertEqual(SustainedFaultTests.probe(port), .echoed, "app connections still work")
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await target.stop()
    }

    /// An app that resets while its connection waits on a hung server ends the attempt at once: no 15 s
    /// wait, no failover of its bytes, and no mark against the server.
    func testAnAppThatLeavesEndsItsAttemptAtOnce() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let first = try startServer(target: target.port)
        defer { first.process.stop() }
        let second = try startServer(target: target.port)
        defer { second.process.stop() }
        let (client, port) = try startClient([first.url(), second.url()])
        defer { client.stop() }
        XCTAssertEqual(SustainedFaultTests.probe(port), .echoed)
        kill(first.process.pid, SIGSTOP)
        defer { kill(first.process.pid, SIGCONT) }
        let descriptors = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(client.pid)/fd").count) ?? 0 }
        let before = descriptors()
        let app = try BlockingSocket(port: port, timeout: 10)
        try app.write("bytes for nobody")
        XCTAssertTrue(TestKit.poll { descriptors() >= before + 2 }, "the app's socket and the attempt's")
        app.reset()
        XCTAssertTrue(client.waitForOutput("the app left before the server answered", timeout: 8), client.stderr)
        XCTAssertEqual(try totals(second).total, 0, "its bytes went nowhere else")
        XCTAssertFalse(client.stderr.contains("server down"), client.stderr)
        XCTAssertTrue(TestKit.poll { descriptors() <= before }, "the attempt's socket is closed at once")
        XCTAssertEqual(client.signal(SIGTERM), 0)
        await target.stop()
    }
}
