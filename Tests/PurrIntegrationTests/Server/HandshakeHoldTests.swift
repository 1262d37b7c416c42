import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// While the target connects, reading from the client stays on (no system calls to turn it off and on),
/// but what the server holds is bounded: past `RelayEndHandler.holdLimit` it stops reading, and the
/// client's writes stall in the socket buffers. Once the target answers, every byte arrives in order.
final class HandshakeHoldTests: XCTestCase {
    func testBytesBehindTheHeadAreHeldBoundedWhileTheTargetConnectsThenRelayedByteExact() async throws {
        let target = try StalledTarget()
        defer { target.stop() }
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let payload = TestKit.randomPayload(count: 48 << 20)
        let socket = try BlockingSocket(port: server.port, timeout: 20)
        defer { socket.close() }
        try socket.write(UpgradeRequest(path: "/t", host: "127.0.0.1:\(server.port)").encoded())
        let stalledAt = socket.writeUntilStalled(payload)
        // Unbounded, the server would read all 48 MiB while the connect waits; bounded, the bytes stop in
        // the kernel's buffers (a few MiB on loopback) plus what the server holds.
        XCTAssertLessThan(stalledAt, 24 << 20, "the server kept reading while the target connected")
        XCTAssertGreaterThan(stalledAt, RelayEndHandler.holdLimit)

        socket.finishWriting(payload, from: stalledAt)
        let received = try target.releaseAndRead()
        XCTAssertEqual(received.count, payload.count)
        XCTAssertTrue(received == payload, "the relayed bytes differ from those sent")
        let (head, _) = try socket.readHead()
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101 "), head)
        await server.shutdown(drainTimeout: 0)
    }
}
