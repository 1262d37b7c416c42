import Foundation
import PurrClient
import PurrCore
import PurrTestSupport
import XCTest

/// `purr up` with a `mode = "reverse"` entry against the built purr-server's `[[reverse]]` entry.
final class ReverseUpTests: XCTestCase {
    static let token = "rev-up-token-1"

    /// Exposed by `purr up`: curl through the published port gets the origin's bytes exactly; once
    /// `purr up` is stopped, the published port refuses (the connection ends at once, no hang).
    func testPurrUpExposesAReverseEntryAndItsStopReleasesTheName() throws {
        let body = "published by purr up \(UUID().uuidString)\n"
        let origin = try HTTPOrigin("rev-up", index: body)
        defer { origin.stop() }
        let (directory, originPort) = (origin.directory, origin.port)
        let published = RunningProcess.freePort()
        let (server, serverPort) = try RunningProcess.reverseServer(token: Self.token, published: published, extra: "wait_timeout = 2")
        defer { server.stop() }
        let file = directory.appendingPathComponent("tunnels.toml").path
        try """
        [[tunnels]]
        name = "lab web"
        mode = "reverse"
        url = "http://127.0.0.1:\(serverPort)/rev/web"
        target = "127.0.0.1:\(originPort)"
        pool = 2
        token = "\(Self.token)"
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let up = try RunningProcess("purr", ["up", "--config", file, "lab web"])
        defer { up.stop() }
        XCTAssertTrue(up.waitForOutput("lab web: registering as web"), up.stdout + up.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 20) { server.stderr.contains("reverse client registered") }, server.stderr + up.stderr)
        for _ in 0..<5 {
            let result = try RunningProcess.run(
                absolute: "/usr/bin/curl", ["-sS", "-m", "10", "--noproxy", "*", "http://127.0.0.1:\(published)/index.html"])
            XCTAssertEqual(result.status, 0, result.stderr + server.stderr + up.stderr)
            XCTAssertEqual(result.stdout, body)
        }
        up.stop()
        let refused = TestKit.poll(timeout: 15) {
            guard let socket = try? BlockingSocket(port: published) else { return false }
            socket.setReadTimeout(5)
            return (try? socket.read()) == []
        }
        XCTAssertTrue(refused, server.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 10) { server.stderr.contains("reverse connection refused") }, server.stderr)
    }

    /// A reverse tunnel closed in-process (the TUI's toggle): its snapshot said exposed and served; after
    /// close, a published connection is no longer relayed to the target (it ends).
    func testEngineCloseStopsServingTheReverseTunnel() async throws {
        let body = "served until closed \(UUID().uuidString)\n"
        let origin = try HTTPOrigin("rev-close", index: body)
        defer { origin.stop() }
        let originPort = origin.port
        let published = RunningProcess.freePort()
        let (server, serverPort) = try RunningProcess.reverseServer(token: Self.token, published: published, extra: "wait_timeout = 2")
        defer { server.stop() }
        var config = TunnelConfig(name: "lab", url: try ServerURL(parsing: "http://127.0.0.1:\(serverPort)/rev/web"), token: Self.token)
        config.mode = .reverse
        config.target = HostPort(host: "127.0.0.1", port: originPort)
        config.pool = 2
        let engine = TunnelEngine(environment: [:])
        try engine.add(config)
        let opened = await engine.open("lab")
        XCTAssertEqual(opened, .listening)
        XCTAssertTrue(TestKit.poll(timeout: 20) { engine.snapshot(of: "lab")?.reverse?.registered == true }, server.stderr)
        XCTAssertEqual(engine.snapshot(of: "lab")?.boundAddresses, ["exposed as web"])
        let served = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-sS", "-m", "10", "--noproxy", "*", "http://127.0.0.1:\(published)/index.html"])
        XCTAssertEqual(served.stdout, body, served.stderr + server.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 10) { engine.snapshot(of: "lab")?.reverse?.counters.served == 1 })
        // The page went up to the server (the target's answer), the request came down from it.
        let counted = try XCTUnwrap(engine.snapshot(of: "lab"))
        XCTAssertGreaterThan(counted.bytesUp, body.utf8.count)
        XCTAssertGreaterThan(counted.bytesDown, 0)
        await engine.close("lab")
        XCTAssertNil(engine.snapshot(of: "lab")?.reverse)
        let after = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-sS", "-m", "10", "--noproxy", "*", "http://127.0.0.1:\(published)/index.html"])
        XCTAssertNotEqual(after.stdout, body, "not relayed after close")
        await engine.shutdown()
    }
}

extension ReverseUpTests {
    /// Closing a reverse tunnel in-process (the TUI's toggle, a reload that drops it) closes its held
    /// requests at once: the server's clients and held requests for the name drop to 0 within seconds
    /// (not at the 50 s refresh, nor wait_timeout after its last use), and the published port refuses.
    /// While open, its state word is `exposed`, not `listening`.
    func testEngineCloseReleasesTheNameAtOnce() async throws {
        let body = "released on close \(UUID().uuidString)\n"
        let origin = try HTTPOrigin("rev-release", index: body)
        defer { origin.stop() }
        let originPort = origin.port
        let published = RunningProcess.freePort()
        let admin = RunningProcess.freePort()
        let (server, serverPort) = try RunningProcess.reverseServer(
            token: Self.token, published: published, extra: "wait_timeout = 30", arguments: ["--admin-port", String(admin)])
        defer { server.stop() }
        var config = TunnelConfig(name: "lab", url: try ServerURL(parsing: "http://127.0.0.1:\(serverPort)/rev/web"), token: Self.token)
        config.mode = .reverse
        config.target = HostPort(host: "127.0.0.1", port: originPort)
        config.pool = 3
        let engine = TunnelEngine(environment: [:])
        try engine.add(config)
        let opened = await engine.open("lab")
        XCTAssertEqual(opened, .listening)
        XCTAssertTrue(TestKit.poll(timeout: 20) { engine.snapshot(of: "lab")?.stateWord == "exposed" }, server.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 10) { ReverseStatsTests.stats(admin: admin).map { $0.clients == 1 && $0.held == 3 } ?? false })
        let served = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-sS", "-m", "10", "--noproxy", "*", "http://127.0.0.1:\(published)/index.html"])
        XCTAssertEqual(served.stdout, body, served.stderr + server.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 10) { ReverseStatsTests.stats(admin: admin)?.held == 3 })
        await engine.close("lab")
        XCTAssertEqual(engine.snapshot(of: "lab")?.stateWord, "closed")
        let released = TestKit.poll(timeout: 5) { ReverseStatsTests.stats(admin: admin).map { $0.clients == 0 && $0.held == 0 } ?? false }
        XCTAssertTrue(released, "\(String(describing: ReverseStatsTests.stats(admin: admin)))" + server.stderr)
        let refused = try BlockingSocket(port: published)
        refused.setReadTimeout(5)
        XCTAssertEqual(try refused.read(), [])
        await engine.shutdown()
    }
}

extension ReverseUpTests {
    /// `purr up` reloaded (SIGHUP) with its reverse tunnel gone from tunnels.toml: the tunnel closes its
    /// held requests at once, so the server's clients and held requests for the name drop to 0 within
    /// seconds and the published port refuses, while `purr up` runs on with its other tunnel.
    func testPurrUpReloadWithoutTheReverseTunnelReleasesTheName() throws {
        let origin = try HTTPOrigin("rev-reload", files: [:])
        defer { origin.stop() }
        let (directory, originPort) = (origin.directory, origin.port)
        let published = RunningProcess.freePort()
        let admin = RunningProcess.freePort()
        let (server, serverPort) = try RunningProcess.reverseServer(
            token: Self.token, published: published, extra: "wait_timeout = 30", arguments: ["--admin-port", String(admin)])
        defer { server.stop() }
        let other = """
            [[tunnels]]
            name = "other"
            url = "http://127.0.0.1:\(serverPort)/other"
            listen = "127.0.0.1:0"
            autostart = true

            """
        let file = directory.appendingPathComponent("tunnels.toml").path
        try
            (other + """
                [[tunnels]]
                name = "lab web"
                mode = "reverse"
                url = "http://127.0.0.1:\(serverPort)/rev/web"
                target = "127.0.0.1:\(originPort)"
                pool = 2
                token = "\(Self.token)"
                autostart = true
                """).write(toFile: file, atomically: true, encoding: .utf8)
        let up = try RunningProcess("purr", ["up", "--config", file])
        defer { up.stop() }
        XCTAssertTrue(up.waitForOutput("lab web: registering as web"), up.stdout + up.stderr)
        XCTAssertTrue(TestKit.poll(timeout: 20) { ReverseStatsTests.stats(admin: admin).map { $0.clients == 1 && $0.held == 2 } ?? false })
        try other.write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(kill(up.pid, SIGHUP), 0)
        XCTAssertTrue(up.waitForOutput("reloaded"), up.stderr)
        let released = TestKit.poll(timeout: 5) { ReverseStatsTests.stats(admin: admin).map { $0.clients == 0 && $0.held == 0 } ?? false }
        XCTAssertTrue(released, "\(String(describing: ReverseStatsTests.stats(admin: admin)))" + server.stderr + up.stderr)
        let refused = try BlockingSocket(port: published)
        refused.setReadTimeout(5)
        XCTAssertEqual(try refused.read(), [])
        XCTAssertTrue(up.process.isRunning, "purr up runs on with its other tunnel")
    }
}
