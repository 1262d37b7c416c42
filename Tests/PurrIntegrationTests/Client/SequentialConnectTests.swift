import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// Many short connections one after another, as `purr-bench connect` makes them. The client used to
/// start its dial before the accepted channel was active; when the upgrade won that race the
/// connection was dropped without being closed, and its caller waited forever (about 1 in 300).
final class SequentialConnectTests: XCTestCase {
    func testEverySequentialConnectionEchoes() async throws {
        let group = InProcessServer.group
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let tunnel = try engine.add(
            TunnelConfig(
                name: "t", url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)/t"),
                listen: try ListenAddress(parsing: "127.0.0.1:0")))
        let state = await tunnel.open()
        XCTAssertEqual(state, .listening)
        let port = tunnel.snapshot.port ?? 0
        var failures = 0
        for index in 0..<600 {
            do {
                let socket = try BlockingSocket(port: port, timeout: 3)
                defer { socket.close() }
                try socket.write([UInt8(index & 0x7f)])
                if try socket.read(exactly: 1) != [UInt8(index & 0x7f)] { failures += 1 }
            } catch {
                failures += 1
            }
        }
        XCTAssertEqual(failures, 0)
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
        await target.stop()
    }
}
