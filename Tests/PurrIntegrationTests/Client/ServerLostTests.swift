import Foundation
import PurrTestSupport
import XCTest

/// A relay whose server dies under it (`kill -9`) ends as a failure with a reason, not as a clean close:
/// the app was still sending, and its bytes were lost (issue 26, point 7; found attacking: the client
/// logged `reason=closed` and the app saw a normal end).
final class ServerLostTests: XCTestCase {
    func testARelayWhoseServerIsKilledEndsFailedWithAReason() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        let port = RunningProcess.freePort()
        let server = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)", "--route", "/e=127.0.0.1:\(target.port)"])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening"), server.stderr)
        let client = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(port)/e", "--listen", "127.0.0.1:0"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") } ?? ""
        let local = try XCTUnwrap(Int(line.split(separator: ":").last ?? ""), client.stdout)

        let app = try BlockingSocket(port: local, timeout: 5)
        defer { app.close() }
        let first = TestKit.randomPayload(count: 1000)
        try app.write(first)
        XCTAssertEqual(try app.read(exactly: first.count), first, "the relay works")
        XCTAssertEqual(server.signal(SIGKILL), 9)
        // The app goes on sending; the client must end this connection as failed, naming why.
        let chunk = [UInt8](repeating: 0x2a, count: 1024)
        let failed = TestKit.poll(timeout: 10) {
            try? app.write(chunk)
            return client.stderr.contains("failed")
        }
        XCTAssertTrue(failed, client.stderr)
        let failure = client.stderr.split(separator: "\n").first { $0.contains("failed") && $0.contains("conn=1") } ?? ""
        XCTAssertTrue(
            failure.contains("closed while bytes were still going to it") || failure.contains("connection reset")
                || failure.contains("broken pipe"), String(failure))
        XCTAssertFalse(client.stderr.contains("reason=closed"), "not a clean close: \(client.stderr)")
        await target.stop()
    }
}
