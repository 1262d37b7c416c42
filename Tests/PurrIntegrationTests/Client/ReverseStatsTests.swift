import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// A `[[reverse]]` name in the built purr-server's admin JSON and event stream, with a real `purr expose`
/// and curl: clients, held requests, active relays, connections, bytes and refusals; and the release of a
/// killed client at once (the publish route answers 503 instead of a 101 that resets).
final class ReverseStatsTests: XCTestCase {
    static let token = "rev-stats-token-1"

    /// A server whose `[[reverse]] web` publishes on `published` and at `/web`, with an admin port.
    func startServer(published: Int, admin: Int) throws -> (RunningProcess, Int) {
        try RunningProcess.purrServer(
            config: """
                [[reverse]]
                name = "web"
                path = "/rev/web"
                token = "\(Self.token)"
                listen = "127.0.0.1:\(published)"
                publish = "/web"
                wait_timeout = 30
                """, arguments: ["--admin-port", String(admin)])
    }

    static func stats(admin: Int) -> StatsSnapshot.ReverseStats? {
        guard
            let result = try? RunningProcess.run(
                absolute: "/usr/bin/curl", ["-sS", "-m", "5", "--noproxy", "*", "http://127.0.0.1:\(admin)/stats"]),
            let snapshot = try? AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(result.stdout.utf8))
        else { return nil }
        return snapshot.reverse?.first { $0.name == "web" }
    }

    func testAdminStatsAndEventsCountTheNameAndAKilledClientIsReleasedAtOnce() throws {
        let body = "counted per name \(UUID().uuidString)\n"
        let origin = try HTTPOrigin("rev-stats", index: body)
        defer { origin.stop() }
        let originPort = origin.port
        let published = RunningProcess.freePort()
        let admin = RunningProcess.freePort()
        let (server, serverPort) = try startServer(published: published, admin: admin)
        defer { server.stop() }
        let exposer = try RunningProcess(
            "purr", ["expose", "http://127.0.0.1:\(serverPort)/rev/web", "--to", "127.0.0.1:\(originPort)", "--pool", "2"],
            environment: ["PURR_TOKEN": Self.token])
        defer { exposer.stop() }
        XCTAssertTrue(exposer.waitForOutput("exposed as web"), exposer.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 10) { Self.stats(admin: admin).map { $0.clients == 1 && $0.held == 2 } ?? false })

        // The event stream: a published connection opens on the registration path, its target the published peer.
        let viewer = try BlockingSocket(port: admin)
        defer { viewer.close() }
        try viewer.write("GET /stats/stream?interval_ms=200 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        viewer.setReadTimeout(2)
        var stream = ""
        XCTAssertTrue(
            TestKit.poll(timeout: 10) { () -> Bool in
                stream += String(decoding: (try? viewer.read()) ?? [], as: UTF8.self)
                return stream.contains("\"reverse\":[{")
            }, stream)

        for _ in 0..<3 {
            let result = try RunningProcess.run(
                absolute: "/usr/bin/curl", ["-sS", "-m", "10", "--noproxy", "*", "http://127.0.0.1:\(published)/index.html"])
            XCTAssertEqual(result.stdout, body, result.stderr + server.stderr)
        }
        let opened = TestKit.poll(timeout: 10) { () -> Bool in
            stream += String(decoding: (try? viewer.read()) ?? [], as: UTF8.self)
            return stream.components(separatedBy: "event: connection").contains {
                $0.contains("\"event\":\"opened\"") && $0.contains("\"route\":\"/rev/web\"") && $0.contains("\"target\":\"127.0.0.1:")
            }
        }
        XCTAssertTrue(opened, String(stream.suffix(3000)))

        // Counted: 3 connections, none active now; bytes in (the requests) and out (the pages, with their heads).
        XCTAssertTrue(TestKit.poll(timeout: 10) { Self.stats(admin: admin).map { $0.connections == 3 && $0.active == 0 } ?? false })
        let counted = try XCTUnwrap(Self.stats(admin: admin))
        XCTAssertGreaterThan(counted.bytesIn, 3 * "GET /index.html HTTP/1.1\r\n".utf8.count)
        XCTAssertGreaterThan(counted.bytesOut, 3 * body.utf8.count)
        XCTAssertEqual(counted.refusals, [:])

        // A published connection that stays open is active while it relays.
        let open = try BlockingSocket(port: published)
        try open.write("GET /index.html HTTP/1.1\r\nHost: x\r\n")
        XCTAssertTrue(TestKit.poll(timeout: 10) { Self.stats(admin: admin)?.active == 1 }, server.stderr)
        open.close()
        XCTAssertTrue(TestKit.poll(timeout: 10) { Self.stats(admin: admin)?.active == 0 }, server.stderr)
        let metrics = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-sS", "-m", "5", "--noproxy", "*", "http://127.0.0.1:\(admin)/metrics"]
        ).stdout
        XCTAssertTrue(metrics.contains("purr_reverse_active{reverse=\"web\"} 0"), metrics)
        XCTAssertTrue(metrics.contains("purr_reverse_connections_total{reverse=\"web\"} 4"), metrics)
        XCTAssertTrue(metrics.contains("purr_reverse_bytes_total{reverse=\"web\",direction=\"out\"}"), metrics)

        // Killed just after serving: released at once (not after wait_timeout = 30 s), the published port
        // closes a connection at once and the publish route answers 503 with the reason.
        XCTAssertNotNil(exposer.signal(SIGKILL))
        XCTAssertTrue(TestKit.poll(timeout: 5) { Self.stats(admin: admin).map { $0.clients == 0 && $0.held == 0 } ?? false }, server.stderr)
        let refused = try BlockingSocket(port: published)
        refused.setReadTimeout(5)
        XCTAssertEqual(try refused.read(), [])
        let route = try BlockingSocket(port: serverPort)
        route.setReadTimeout(5)
        try route.write(
            "GET /web HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\n\r\n")
        let answer = String(decoding: try route.read(), as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 503"), answer)
        XCTAssertTrue(answer.contains("no client has exposed web"), answer)
        XCTAssertTrue(TestKit.poll(timeout: 5) { (Self.stats(admin: admin)?.refusals["not_registered"] ?? 0) >= 1 }, server.stderr)
        XCTAssertTrue(
            TestKit.poll(timeout: 5) { () -> Bool in
                stream += String(decoding: (try? viewer.read()) ?? [], as: UTF8.self)
                return stream.contains("\"clients\":0")
            }, String(stream.suffix(2000)))
    }
}
