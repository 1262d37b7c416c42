import Foundation
import NIOCore
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The client engine against a real in-process purr-server and real targets.
final class EngineRelayTests: XCTestCase {
    let group = InProcessServer.group

    struct Setup {
        let target: TestTarget
        let server: PurrServer
        let engine: TunnelEngine
        let tunnel: Tunnel
        var port: Int { tunnel.snapshot.port ?? 0 }
    }

    func setUp(_ behavior: TestTarget.Behavior, path: String = "/t", listen: String = "127.0.0.1:0") async throws -> Setup {
        let target = try await TestTarget.start(behavior, group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let config = TunnelConfig(
            name: "t",
            url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)\(path)"),
            listen: try ListenAddress(parsing: listen)
        )
        let tunnel = try engine.add(config)
        let state = await tunnel.open()
        XCTAssertEqual(state, .listening)
        return Setup(target: target, server: server, engine: engine, tunnel: tunnel)
    }

    func tearDown(_ setup: Setup) async {
        await setup.engine.shutdown()
        await setup.server.shutdown(drainTimeout: 0)
        await setup.target.stop()
    }

    func testClientSpeaksFirstAndHalfClosesBeforeTheUpgradeCompletes() async throws {
        let setup = try await setUp(.echo(banner: nil))
        let socket = try BlockingSocket(port: setup.port)
        try socket.write("hello")
        socket.shutdownWrite()
        XCTAssertEqual(String(decoding: try socket.readToEnd(), as: UTF8.self), "hello")
        await tearDown(setup)
    }
}
