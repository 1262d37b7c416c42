import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

/// A real nginx in front of purr-server, as deployed: the upgrade passes for `purr` and `websocket`,
/// and one upstream spreads tunnels over two servers whose admin endpoints each report their share.
final class ReverseProxyTests: XCTestCase {
    let group = InProcessServer.group

    func test64MiBThroughNginxForBothUpgradeTokens() async throws {
        let target = try await TestTarget.start(.echo(banner: "HELLO\n"), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let nginx = try NginxProxy(backends: [server.port])
        defer { nginx.stop() }
        let transports = Mutex<[Transport?]>([])
        server.registry.addObserver { event in
            if event.event == .opened { transports.withLock { $0.append(event.connection.transport) } }
        }
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        for upgrade in UpgradeProtocol.allCases {
            var config = TunnelConfig(name: upgrade.rawValue, url: try ServerURL(parsing: "http://127.0.0.1:\(nginx.port)/t"))
            config.upgrade = upgrade
            let tunnel = try engine.add(config)
            await tunnel.open()
            let payload = TestKit.randomPayload(count: 64 << 20, seed: upgrade == .purr ? 1 : 2)
            let socket = try BlockingSocket(port: tunnel.snapshot.port!, timeout: 60)
            // nginx ends both directions when one side ends (no half-close through it): read all, then close.
            let outcome = try Duplex.exchange(socket, payload: payload, expect: 6 + payload.count)
            XCTAssertEqual(outcome.receivedBytes, 6 + payload.count, "\(upgrade)")
            XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(Array("HELLO\n".utf8) + payload), "\(upgrade)")
            XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        }
        // `websocket` is a real WebSocket (frames) through nginx, not the compatibility mode.
        XCTAssertEqual(transports.withLock { $0 }, [.purr, .websocket])
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testTwoServersBehindOneUpstreamShareTheTunnels() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let route = try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        let servers = [try await InProcessServer.start(routes: [route]), try await InProcessServer.start(routes: [route])]
        var admins: [AdminServer] = []
        for server in servers {
            let admin = AdminServer(
                config: AdminConfig(listen: HostPort(host: "127.0.0.1", port: 0)), registry: server.registry, group: group,
                logger: InProcessServer.quietLogger)
            try await admin.start()
            admins.append(admin)
        }
        let nginx = try NginxProxy(backends: servers.map(\.port))
        defer { nginx.stop() }
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(TunnelConfig(name: "lb", url: try ServerURL(parsing: "http://127.0.0.1:\(nginx.port)/t")))
        await tunnel.open()
        for index in 0..<10 {
            let socket = try BlockingSocket(port: tunnel.snapshot.port!)
            let message = Array("connection \(index)".utf8)
            try socket.write(message)
            XCTAssertEqual(try socket.read(exactly: message.count), message)
            socket.close()
        }
        var shares: [Int] = []
        for admin in admins {
            let socket = try BlockingSocket(port: admin.port)
            try socket.write("GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            let body = try socket.readResponse().body
            shares.append(try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(body.utf8)).totals.total)
        }
        XCTAssertEqual(shares.reduce(0, +), 10, "\(shares)")
        XCTAssertTrue(shares.allSatisfy { $0 > 0 }, "round robin reaches both servers: \(shares)")
        await engine.shutdown()
        for admin in admins { await admin.shutdown() }
        for server in servers { await server.shutdown(drainTimeout: 0) }
    }
}
