import Foundation
import PurrTestSupport
import XCTest

/// The second end of a connection (both directions half-closed, one after the other) must not cost the
/// bytes still queued for a slow reader: NIO turns a close of the output into a full close once the input
/// has ended, dropping what is queued, so a relay must let the queue drain first (found in review: after
/// the relay's half-close was simplified, up to a megabyte per hop was lost without a word).
final class HalfCloseDrainTests: XCTestCase {
    /// purr-server and `purr connect` to `target`; returns them and the client's local port.
    private func tunnel(to target: Int) throws -> (RunningProcess, RunningProcess, Int) {
        let port = RunningProcess.freePort()
        let server = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)", "--route", "/e=127.0.0.1:\(target)"])
        XCTAssertTrue(server.waitForOutput("listening"), server.stderr)
        let client = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(port)/e", "--listen", "127.0.0.1:0"])
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") } ?? ""
        return (server, client, Int(line.split(separator: ":").last ?? "") ?? 0)
    }

    /// Reads to the end (or `limit` bytes) in small reads through a small receive buffer: a reader slower
    /// than the tunnel, so bytes queue at each hop.
    private static func readSlowly(_ socket: BlockingSocket, upTo limit: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        while received.count < limit {
            let chunk = try socket.read(max: 4 * 1024)
            if chunk.isEmpty { break }
            received += chunk
        }
        return received
    }

    /// The app half-closes first, then reads slowly (a small receive buffer, 4 KiB at a time) while the
    /// target sends 16 MiB and closes: every byte reaches it. The target's end reaches each hop while
    /// bytes still wait there for the slow reader.
    func testADownloadAfterTheAppsHalfCloseArrivesWholeAtASlowReader() async throws {
        let size = 16 << 20
        let target = try await TestTarget.start(
            .burstThenClose(bytes: size, reset: false, afterFirstByte: true), group: InProcessServer.group)
        let (server, client, local) = try tunnel(to: target.port)
        defer { server.stop() }
        defer { client.stop() }
        let app = try BlockingSocket(port: local, timeout: 20)
        defer { app.close() }
        app.setReceiveBuffer(16 * 1024)
        try app.write([0x21])
        app.shutdownWrite()
        let received = try Self.readSlowly(app, upTo: size + 1)
        XCTAssertEqual(received.count, size, "server: \(server.stderr.suffix(1500)) client: \(client.stderr.suffix(1500))")
        XCTAssertEqual(TestKit.sha256(received), TestKit.sha256(TestKit.randomPayload(count: size, seed: 77)))
        await target.stop()
    }

    /// The target says its banner and half-closes first, then reads slowly; the app sends 2 MiB and
    /// closes: the target gets every byte.
    func testAnUploadAfterTheTargetsHalfCloseArrivesWholeAtASlowReader() async throws {
        let size = 2 << 20
        let target = try await TestTarget.start(.sink(banner: "ok\n"), group: InProcessServer.group, pausedReading: true)
        let (server, client, local) = try tunnel(to: target.port)
        defer { server.stop() }
        defer { client.stop() }
        let app = try BlockingSocket(port: local, timeout: 20)
        defer { app.close() }
        XCTAssertEqual(try app.read(exactly: 3), Array("ok\n".utf8))
        let payload = TestKit.randomPayload(count: size, seed: 5)
        try app.write(payload)
        app.shutdownWrite()
        target.resumeReading()
        XCTAssertTrue(TestKit.poll(timeout: 20) { !target.sinkResults.isEmpty }, "the target saw the end")
        let result = try XCTUnwrap(target.sinkResults.first)
        XCTAssertEqual(result.bytes, size, "server: \(server.stderr.suffix(1500)) client: \(client.stderr.suffix(1500))")
        XCTAssertEqual(result.sha256, TestKit.sha256(payload))
        await target.stop()
    }
}
