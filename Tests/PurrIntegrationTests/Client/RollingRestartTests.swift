import Foundation
import PurrCore
import PurrTestSupport
import Synchronization
import XCTest

/// Issue 26, point 4: a rolling restart of two `purr-server`s listed in one `purr connect`, under 20 new
/// connections a second. Each server in turn is sent SIGTERM (it drains: new upgrades get 503, its live
/// relays finish), exits, and is started again on its port. The app sees no failed connection, and every
/// connection's bytes come back whole (each lasts well under the drain timeout).
final class RollingRestartTests: XCTestCase {
    /// One app connection: 16 KiB, then it stays open until `later()` holds (several later connections
    /// have started: so connections are live across a drain; bounded), 16 KiB more, half-close,
    /// everything echoed back, compared.
    static func oneConnection(port: Int, seed: UInt64, until later: () -> Bool = { true }) -> String? {
        let payload = TestKit.randomPayload(count: 32 * 1024, seed: seed)
        do {
            let socket = try BlockingSocket(port: port, timeout: 10)
            defer { socket.close() }
            try socket.write(Array(payload[..<16384]))
            _ = TestKit.poll(timeout: 5, later)
            try socket.write(Array(payload[16384...]))
            socket.shutdownWrite()
            let echoed = try socket.readToEnd()
            return echoed == payload ? nil : "seed \(seed): \(echoed.count) of \(payload.count) bytes came back, or changed"
        } catch {
            return "seed \(seed): \(error)"
        }
    }

    func testARollingRestartOfTwoServersLosesNoConnectionAndNoByte() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        let ports = [RunningProcess.freePort(), RunningProcess.freePort()]
        func server(_ index: Int) throws -> (process: RunningProcess, admin: Int) {
            let process = try RunningProcess(
                "purr-server",
                [
                    "--listen", "127.0.0.1:\(ports[index])", "--route", "/e=127.0.0.1:\(target.port)", "--drain-timeout", "10",
                    "--admin-port", "0",
                ])
            XCTAssertTrue(process.waitForOutput("admin on 127.0.0.1:"), process.stderr)
            let line = process.stdout.split(separator: "\n").first { $0.hasPrefix("admin on") } ?? ""
            return (process, Int(line.split(separator: ":").last ?? "") ?? 0)
        }
        var servers = [try server(0), try server(1)]
        defer { for server in servers { server.process.stop() } }
        let client = try RunningProcess(
            "purr", ["connect", "http://127.0.0.1:\(ports[0])/e", "http://127.0.0.1:\(ports[1])/e", "--listen", "127.0.0.1:0"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") } ?? ""
        let port = try XCTUnwrap(Int(line.split(separator: ":").last ?? ""), client.stdout)

        // A connection every 50 ms, each on its own thread, each open until six more have started: some
        // are live across each drain.
        let begun = Atomic<UInt64>(0)
        let load = LoadLoop(pace: .milliseconds(50), overlapping: true) { seed in
            begun.add(1, ordering: .relaxed)
            let failure = Self.oneConnection(port: port, seed: seed) { begun.load(ordering: .relaxed) >= seed + 6 }
            return (failure == nil ? .echoed : .wrong, failure)
        }
        defer { load.stop() }
        func finished() -> Int { load.now.finished }
        XCTAssertTrue(TestKit.poll(timeout: 20) { finished() >= 20 }, "the load runs before any restart")
        for index in 0..<2 {
            // Drain: SIGTERM; the server answers new upgrades 503 while its relays finish, then exits 0.
            XCTAssertEqual(
                servers[index].process.signal(SIGTERM, timeout: 20), 0,
                "server \(index) drained and exited: \(servers[index].process.stderr)")
            servers[index] = try server(index)
            // Back in the list: the first server takes connections again once the client has seen it healthy.
            if index == 0 {
                let admin = servers[index].admin
                XCTAssertTrue(
                    TestKit.poll(timeout: 30) { ((try? Self.totals(admin)) ?? 0) >= 5 },
                    "the restarted first server takes connections again: \(client.stderr.suffix(2000))")
            } else {
                let before = finished()
                XCTAssertTrue(TestKit.poll(timeout: 20) { finished() >= before + 20 }, "the load goes on after the second restart")
            }
        }
        let outcome = load.stop()
        XCTAssertEqual(outcome.finished, outcome.started, "every connection ended")
        XCTAssertEqual(
            outcome.failures, [], "no connection failed or lost a byte (\(outcome.started) connections): \(client.stderr.suffix(3000))")
        XCTAssertGreaterThan(outcome.started, 60)
        await target.stop()
    }

    /// The `total` of a server's admin /stats.
    static func totals(_ admin: Int) throws -> Int {
        let socket = try BlockingSocket(port: admin)
        defer { socket.close() }
        try socket.write("GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let response = try socket.readResponse()
        let snapshot = try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(response.body.utf8))
        return snapshot.totals.total
    }
}
