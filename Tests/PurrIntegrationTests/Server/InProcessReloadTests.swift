import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// `PurrServer.reload(to:)` in process: limits for new connections, route counters, what needs a restart.
final class InProcessReloadTests: XCTestCase {
    let group = InProcessServer.group

    func testLimitsApplyToNewConnectionsAndRoutesAppearInStats() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let route = try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        let server = try await InProcessServer.start(routes: [route])
        let first = try BlockingSocket(port: server.port)
        XCTAssertTrue(try first.upgrade(path: "/t", port: server.port).head.hasPrefix("HTTP/1.1 101"))

        var tighter = server.config
        tighter.maxConnections = 1
        tighter.routes.append(try Route(path: "/new", target: HostPort(host: "127.0.0.1", port: target.port)))
        let outcome = try server.reload(to: tighter)
        XCTAssertEqual(outcome.generation, 2)
        XCTAssertEqual(server.registry.snapshot().routes.map(\.path), ["/t", "/new"])
        XCTAssertEqual(server.registry.snapshot().config?.generation, 2)
        let second = try BlockingSocket(port: server.port)
        XCTAssertTrue(try second.upgrade(path: "/new", port: server.port).head.hasPrefix("HTTP/1.1 503"), "the new limit applies")
        try first.write("still")
        XCTAssertEqual(try first.read(exactly: 5), Array("still".utf8), "the relay from before is untouched")

        var moved = tighter
        moved.listen = HostPort(host: "127.0.0.1", port: 1)
        XCTAssertEqual(try server.reload(to: moved).notes.count, 1, "a new listen address waits for a restart")
        var withTLS = tighter
        withTLS.tlsCertificate = "/x.pem"
        withTLS.tlsKey = "/x.key"
        XCTAssertThrowsError(try server.reload(to: withTLS)) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "tls_cert: turning TLS on needs a restart")
        }
        XCTAssertEqual(server.registry.snapshot().config?.generation, 3, "a refused reload changes nothing")
        first.close()
        second.close()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }
}
