import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// What happens when a side dies: the others learn promptly, counters are final, nothing leaks.
final class FaultTests: XCTestCase {
    let group = InProcessServer.group

    func testTargetClosesOrResetsMidStream() async throws {
        for reset in [false, true] {
            // The target dies once the relay is up (a reset before the connect completes is a 502 instead).
            let target = try await TestTarget.start(.burstThenClose(bytes: 1 << 20, reset: reset, afterFirstByte: true), group: group)
            let server = try await InProcessServer.start(routes: [
                try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
            ])
            let socket = try BlockingSocket(port: server.port, timeout: 5)
            let (_, rest) = try socket.upgrade(path: "/t", port: server.port)
            try socket.write("go")
            var received = rest.count
            var ended = false
            while !ended {
                do {
                    let chunk = try socket.read()
                    if chunk.isEmpty { ended = true }
                    received += chunk.count
                } catch {
                    ended = true  // a reset: also a prompt end
                }
            }
            if !reset { XCTAssertEqual(received, 1 << 20, "a graceful close delivers every byte first") }
            // After a FIN the client may still send (half-close); it is done once it closes too.
            socket.close()
            XCTAssertTrue(TestKit.poll(timeout: 2) { server.registry.activeCount == 0 }, "reset: \(reset)")
            let route = try XCTUnwrap(server.registry.snapshot().routes.first)
            XCTAssertEqual(route.bytesOut, reset ? route.bytesOut : 1 << 20)
            XCTAssertEqual(route.active, 0)
            if reset { XCTAssertEqual(route.failures["relay_error"], 1, "\(route.failures)") }
            await server.shutdown(drainTimeout: 0)
            await target.stop()
        }
    }

    func testAVanishedClientFreesTheRelayAndTheTargetSocketWithinASecond() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let socket = try BlockingSocket(port: server.port)
        _ = try socket.upgrade(path: "/t", port: server.port)
        try socket.write("x")
        _ = try socket.read(exactly: 1)
        XCTAssertEqual(target.openCount, 1)
        socket.reset()
        XCTAssertTrue(TestKit.poll(timeout: 1) { server.registry.activeCount == 0 && target.openCount == 0 })
        await server.shutdown(drainTimeout: 0)
    }

    func testOutOfFileDescriptorsRefusesNewConnectionsAndKeepsOldOnes() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let port = RunningProcess.freePort()
        let binary = RunningProcess.productsDirectory.appendingPathComponent("purr-server").path
        let process = try RunningProcess(
            absolute: "/bin/sh",
            ["-c", "ulimit -n 48 && exec \(binary) --listen 127.0.0.1:\(port) --route /t=127.0.0.1:\(target.port) --header-timeout 60"])
        defer { process.stop() }
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let good = try BlockingSocket(port: port)
        _ = try good.upgrade(path: "/t", port: port)
        var flood: [BlockingSocket] = []
        for _ in 0..<80 {
            if let socket = try? BlockingSocket(port: port, timeout: 2) { flood.append(socket) }
        }
        XCTAssertTrue(process.waitForOutput("accept failed"), process.stderr)
        XCTAssertTrue(process.stderr.contains("out of file descriptors"), process.stderr)
        try good.write("still here")
        XCTAssertEqual(try good.read(exactly: 10), Array("still here".utf8), "the open tunnel keeps working")
        for socket in flood { socket.close() }
        XCTAssertTrue(
            TestKit.poll(timeout: 10) {
                guard let socket = try? BlockingSocket(port: port, timeout: 2),
                    let (head, _) = try? socket.upgrade(path: "/t", port: port)
                else { return false }
                return head.hasPrefix("HTTP/1.1 101")
            }, "new tunnels work again once descriptors are free")
        XCTAssertTrue(process.process.isRunning, "nothing crashed")
        XCTAssertEqual(process.signal(SIGTERM), 0)
    }
}
