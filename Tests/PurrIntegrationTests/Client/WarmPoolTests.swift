import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The warm pool (`pool = N`): connections to a real purr-server made ready before the app connects,
/// replaced when used, refreshed before the server's silent timeout, emptied on close, and refilled
/// after the server went away; through TLS and an HTTP proxy too.
final class WarmPoolTests: XCTestCase {
    let group = InProcessServer.group

    func startServer(
        target: TestTarget, port: Int = 0, silentTimeout: Double = 60, headerTimeout: Double = 10, tls: ServerTLS? = nil
    ) async throws -> PurrServer {
        var config = ServerConfig()
        config.listen = HostPort(host: "127.0.0.1", port: port)
        config.routes = [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))]
        config.silentTimeout = silentTimeout
        config.headerTimeout = headerTimeout
        let server = PurrServer(config: config, group: group, logger: InProcessServer.quietLogger, tls: tls)
        try await server.start()
        return server
    }

    func openTunnel(
        _ engine: TunnelEngine, url: String, pool: Int, refresh: Double = 20, configure: (inout TunnelConfig) -> Void = { _ in }
    ) async throws -> Tunnel {
        var config = TunnelConfig(name: "pooled", url: try ServerURL(parsing: url))
        config.pool = pool
        config.poolRefresh = refresh
        configure(&config)
        let tunnel = try engine.add(config)
        let state = await tunnel.open()
        XCTAssertEqual(state, .listening)
        return tunnel
    }

    func echo(_ tunnel: Tunnel, bytes: Int = 256 * 1024, seed: UInt64 = 1) throws {
        let payload = TestKit.randomPayload(count: bytes, seed: seed)
        let socket = try BlockingSocket(port: tunnel.snapshot.port!, timeout: 20)
        let outcome = try Duplex.exchange(socket, payload: payload, expect: payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload), "byte-exact through the pooled connection")
    }

    func pool(_ tunnel: Tunnel) -> WarmPoolSnapshot { tunnel.snapshot.pool ?? WarmPoolSnapshot(size: -1) }

    func failures(_ server: PurrServer, _ label: String) -> Int { server.registry.snapshot().totals.failures[label] ?? 0 }

    func testAUsedConnectionIsReplaced() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await startServer(target: target)
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try await openTunnel(engine, url: "http://127.0.0.1:\(server.port)/t", pool: 2)
        XCTAssertTrue(TestKit.poll { pool(tunnel).idle == 2 }, "\(pool(tunnel))")
        // The two ready connections reached the server and sent nothing: no answer, no failure yet.
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 2 })
        XCTAssertEqual(server.registry.snapshot().totals.failures, [:])

        try echo(tunnel, bytes: 1 << 20)
        XCTAssertTrue(TestKit.poll { pool(tunnel).used == 1 && pool(tunnel).made == 3 && pool(tunnel).idle == 2 }, "\(pool(tunnel))")
        XCTAssertEqual(pool(tunnel).misses, 0, "the app connection took a ready one")
        try echo(tunnel, seed: 2)
        XCTAssertTrue(TestKit.poll { pool(tunnel).used == 2 && pool(tunnel).made == 4 && pool(tunnel).idle == 2 }, "\(pool(tunnel))")
        // Every server connection was a pooled one: two in use (and done), two waiting.
        XCTAssertTrue(TestKit.poll { server.registry.snapshot().totals.total == 4 })
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }

    func testIdleConnectionsAreRefreshedBeforeTheServerTimesThemOut() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        // Header timeout far shorter than the wait: it starts only at a connection's first byte.
        let server = try await startServer(target: target, silentTimeout: 2, headerTimeout: 0.2)
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try await openTunnel(engine, url: "http://127.0.0.1:\(server.port)/t", pool: 2, refresh: 0.5)
        XCTAssertTrue(TestKit.poll(timeout: 20) { pool(tunnel).refreshed >= 6 }, "\(pool(tunnel))")
        XCTAssertEqual(failures(server, "silent_timeout"), 0, "refreshed before the server's timeout")
        XCTAssertEqual(failures(server, "header_timeout"), 0)
        // The server counts a replaced connection as unused, not as a client that went away; it sees each
        // close after the pool counted the refresh, so its count may lag.
        XCTAssertTrue(TestKit.poll { failures(server, "unused") >= 4 }, "\(server.registry.snapshot().totals.failures)")
        XCTAssertEqual(failures(server, "client_gone"), 0)
        XCTAssertEqual(pool(tunnel).lost, 0)
        try echo(tunnel)
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }

    func testTheServerClosesSilentConnectionsAndThePoolReplacesThem() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await startServer(target: target, silentTimeout: 1.2)
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try await openTunnel(engine, url: "http://127.0.0.1:\(server.port)/t", pool: 2, refresh: 60)
        XCTAssertTrue(TestKit.poll(timeout: 20) { pool(tunnel).lost >= 2 && pool(tunnel).idle == 2 }, "\(pool(tunnel))")
        XCTAssertGreaterThanOrEqual(failures(server, "silent_timeout"), 2, "counted by the server")
        try echo(tunnel)
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }

    func testThePoolIsEmptiedWhenTheTunnelCloses() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await startServer(target: target)
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try await openTunnel(engine, url: "http://127.0.0.1:\(server.port)/t", pool: 3)
        XCTAssertTrue(TestKit.poll { pool(tunnel).idle == 3 && server.registry.activeCount == 3 })
        await tunnel.close()
        XCTAssertNil(tunnel.snapshot.pool)
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 }, "the server saw every pooled connection close")
        XCTAssertEqual(server.registry.snapshot().totals.total, 3, "and none was made after the close")
        // Opened again, it fills again.
        await tunnel.open()
        XCTAssertTrue(TestKit.poll { pool(tunnel).idle == 3 })
        try echo(tunnel)
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }

    func testAServerThatGoesAwayDoesNotLeaveTheTunnelUnusable() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let first = try await startServer(target: target)
        let port = first.port
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try await openTunnel(engine, url: "http://127.0.0.1:\(port)/t", pool: 2)
        XCTAssertTrue(TestKit.poll { pool(tunnel).idle == 2 })
        await first.shutdown(drainTimeout: 0)
        // Lost at once, then refused while it is down (retried with a growing pause).
        XCTAssertTrue(
            TestKit.poll { pool(tunnel).idle == 0 && pool(tunnel).lastError?.contains("connection refused") == true }, "\(pool(tunnel))")
        // Meanwhile an app connection fails in words, and the tunnel keeps listening.
        let refused = try BlockingSocket(port: tunnel.snapshot.port!)
        XCTAssertEqual(try refused.readToEnd(), [])
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.failed >= 1 })
        XCTAssertEqual(tunnel.snapshot.state, .listening)

        let second = try await startServer(target: target, port: port)
        XCTAssertTrue(TestKit.poll(timeout: 20) { pool(tunnel).idle == 2 }, "refilled once the server is back: \(pool(tunnel))")
        try echo(tunnel)
        await engine.shutdown()
        await second.shutdown(drainTimeout: 0)
        await target.stop()
    }

    func testPooledOverTLSAndThroughAProxy() async throws {
        let certificates = try TestCertificates.make()
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let tls = try ServerTLS(certificatePath: certificates.certificateFile, keyPath: certificates.keyFile)
        let server = try await startServer(target: target, tls: tls)
        let proxy = try ConnectProxy()
        defer { proxy.stop() }
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try await openTunnel(engine, url: "https://localhost:\(server.port)/t", pool: 2) { config in
            config.caFile = certificates.caFile
            config.proxy = try? ProxySettings(parsing: "http://127.0.0.1:\(proxy.port)")
        }
        XCTAssertTrue(TestKit.poll { pool(tunnel).idle == 2 }, "\(pool(tunnel))")
        // Ready means through the proxy's CONNECT and the TLS handshake, before any app connection.
        XCTAssertEqual(proxy.requests.count, 2)
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 2 })
        try echo(tunnel, bytes: 1 << 20)
        XCTAssertTrue(TestKit.poll { pool(tunnel).used == 1 && pool(tunnel).idle == 2 })
        XCTAssertEqual(pool(tunnel).misses, 0)
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }
}
