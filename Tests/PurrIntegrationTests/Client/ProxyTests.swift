import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// Traversal of a real CONNECT proxy (the one corporate networks put in the way).
final class ProxyTests: XCTestCase {
    let group = InProcessServer.group

    func withServer(_ body: (PurrServer, Int) async throws -> Void) async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        try await body(server, target.port)
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }

    func roundTrip(_ tunnel: Tunnel, bytes: Int = 256 * 1024) throws {
        let payload = TestKit.randomPayload(count: bytes, seed: 5)
        let socket = try BlockingSocket(port: tunnel.snapshot.port!, timeout: 20)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
    }

    func testTunnelProxyWithBasicAuth() async throws {
        try await withServer { server, _ in
            let proxy = try ConnectProxy(credentials: "alice:p@ss word")
            let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
            let tunnel = try engine.add(
                TunnelConfig(
                    name: "p",
                    url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)/t"),
                    proxy: try ProxySettings(parsing: "http://alice:p%40ss%20word@127.0.0.1:\(proxy.port)")
                ))
            await tunnel.open()
            try roundTrip(tunnel)
            // No password before the proxy asks for one (it may want Negotiate or NTLM): a 407 naming
            // Basic, then Basic on a new connection (this proxy closes after its 407).
            XCTAssertEqual(proxy.requests, ["407 127.0.0.1:\(server.port)", "127.0.0.1:\(server.port)"])
            await engine.shutdown()
            proxy.stop()
        }
    }

    func testWrongProxyCredentialsAreReportedInWords() async throws {
        try await withServer { server, _ in
            let proxy = try ConnectProxy(credentials: "alice:secret")
            let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
            let tunnel = try engine.add(
                TunnelConfig(
                    name: "p",
                    url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)/t"),
                    proxy: try ProxySettings(parsing: "http://alice:wrong@127.0.0.1:\(proxy.port)")
                ))
            await tunnel.open()
            let socket = try BlockingSocket(port: tunnel.snapshot.port!)
            XCTAssertEqual(try socket.readToEnd(), [])
            XCTAssertTrue(TestKit.poll { tunnel.snapshot.failed == 1 })
            XCTAssertEqual(tunnel.snapshot.lastError, "proxy 127.0.0.1:\(proxy.port) refused CONNECT: 407 Proxy Authentication Required")
            await engine.shutdown()
            proxy.stop()
        }
    }

    func testEnvironmentProxyAndNoProxy() async throws {
        try await withServer { server, _ in
            let proxy = try ConnectProxy()
            let url = try ServerURL(parsing: "http://127.0.0.1:\(server.port)/t")
            let viaEnv = TunnelEngine(
                group: group, logger: InProcessServer.quietLogger, environment: ["HTTP_PROXY": "http://127.0.0.1:\(proxy.port)"])
            let proxied = try viaEnv.add(TunnelConfig(name: "env", url: url))
            await proxied.open()
            try roundTrip(proxied)
            XCTAssertEqual(proxy.requests.count, 1)

            let bypass = TunnelEngine(
                group: group, logger: InProcessServer.quietLogger,
                environment: ["http_proxy": "http://127.0.0.1:\(proxy.port)", "NO_PROXY": "localhost,127.0.0.1"])
            let direct = try bypass.add(TunnelConfig(name: "direct", url: url))
            await direct.open()
            try roundTrip(direct)
            let disabled = try viaEnv.add(TunnelConfig(name: "none", url: url, noProxy: true))
            await disabled.open()
            try roundTrip(disabled)
            XCTAssertEqual(proxy.requests.count, 1, "NO_PROXY and proxy = none go direct")
            await viaEnv.shutdown()
            await bypass.shutdown()
            proxy.stop()
        }
    }

    func testProxyDownIsReportedInWords() async throws {
        let deadPort = RunningProcess.freePort()
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(
            TunnelConfig(
                name: "p", url: try ServerURL(parsing: "http://127.0.0.1:9/t"),
                proxy: try ProxySettings(parsing: "127.0.0.1:\(deadPort)")))
        await tunnel.open()
        let socket = try BlockingSocket(port: tunnel.snapshot.port!)
        XCTAssertEqual(try socket.readToEnd(), [])
        XCTAssertTrue(TestKit.poll { tunnel.snapshot.failed == 1 })
        XCTAssertEqual(tunnel.snapshot.lastError, "proxy 127.0.0.1:\(deadPort): connection refused")
        await engine.shutdown()
    }
}
