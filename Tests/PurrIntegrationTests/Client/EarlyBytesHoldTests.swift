import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

@testable import PurrClient

/// The app's bytes are read from the moment it connects (so they can leave with the request head), yet
/// what the client holds before the relay is bounded: a target that takes seconds to connect stalls the
/// app's writes in the socket buffers, before and after the client learned the server keeps early data.
/// Once the target answers, every byte arrives in order.
final class EarlyBytesHoldTests: XCTestCase {
    func testTheAppsBytesAreHeldBoundedUntilTheRelayThenArriveByteExact() async throws {
        let target = try StalledTarget()
        defer { target.stop() }
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let engine = TunnelEngine(group: InProcessServer.group, logger: InProcessServer.quietLogger, environment: [:])
        var config = TunnelConfig(name: "hold", url: try ServerURL(parsing: "http://127.0.0.1:\(server.port)/t"))
        config.earlyData = true
        let tunnel = try engine.add(config)
        let opened = await tunnel.open()
        XCTAssertEqual(opened, .listening)
        let port = try XCTUnwrap(tunnel.snapshot.port)
        let payload = TestKit.randomPayload(count: 64 << 20)

        // First connection: held in the client (early data not yet learned). Second: sent early up to its
        // limit, then held by the server while the target connects.
        for (index, round) in ["before the server said it keeps early data", "sent as early data"].enumerated() {
            if index > 0 { try target.stall() }
            let app = try BlockingSocket(port: port, timeout: 20)
            let stalledAt = app.writeUntilStalled(payload)
            XCTAssertLessThan(stalledAt, 32 << 20, "the tunnel kept reading the app while the target connected (\(round))")
            app.finishWriting(payload, from: stalledAt)
            let received = try target.releaseAndRead()
            XCTAssertEqual(received.count, payload.count, round)
            XCTAssertTrue(received == payload, "the relayed bytes differ from those sent (\(round))")
            XCTAssertEqual(try app.readToEnd(), [], "nothing comes back from a sink")
            app.close()
        }
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
    }
}
