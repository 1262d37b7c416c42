import Foundation
import PurrClient
import PurrCore
import PurrTestSupport
import XCTest

/// TLS session resumption in the client, against the built purr-server with TLS: a reconnect resumes,
/// a server that cannot resume (restarted, so with new ticket keys) gets a full handshake that works.
final class TLSResumptionTests: XCTestCase {
    let group = InProcessServer.group

    func startServer(port: Int, target: TestTarget, certificates: TestCertificates) throws -> RunningProcess {
        let process = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(port)", "--route", "/t=127.0.0.1:\(target.port)", "--tls-cert", certificates.certificateFile,
                "--tls-key", certificates.keyFile,
            ])
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        return process
    }

    /// One tunnelled connection, bytes checked both ways, closed by both sides.
    func echo(through port: Int, seed: UInt64) throws {
        let payload = TestKit.randomPayload(count: 256 * 1024, seed: seed)
        let socket = try BlockingSocket(port: port, timeout: 20)
        let outcome = try Duplex.exchange(socket, payload: payload)
        XCTAssertEqual(outcome.receivedBytes, payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
    }

    func counts(_ tunnel: Tunnel) -> [Int] { [tunnel.snapshot.tlsHandshakes, tunnel.snapshot.tlsResumed] }
    func counts(_ cache: TLSSessionCache) -> [Int] { [cache.counts.handshakes, cache.counts.resumed] }

    func testASecondConnectionResumesAndARestartedServerGetsAFullHandshake() async throws {
        let certificates = try TestCertificates.make()
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let serverPort = RunningProcess.freePort()
        var server = try startServer(port: serverPort, target: target, certificates: certificates)
        defer { server.stop() }
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        var config = TunnelConfig(name: "tls", url: try ServerURL(parsing: "https://localhost:\(serverPort)/t"))
        config.caFile = certificates.caFile
        let tunnel = try engine.add(config)
        await tunnel.open()
        let port = try XCTUnwrap(tunnel.snapshot.port)

        try echo(through: port, seed: 1)
        XCTAssertTrue(TestKit.poll { self.counts(tunnel) == [1, 0] }, "\(counts(tunnel))")
        try echo(through: port, seed: 2)
        XCTAssertTrue(TestKit.poll { self.counts(tunnel) == [2, 1] }, "the second connection resumes: \(counts(tunnel))")

        // New ticket keys: the offered session is refused, the handshake is a full one, the bytes get through.
        server.stop()
        server = try startServer(port: serverPort, target: target, certificates: certificates)
        try echo(through: port, seed: 3)
        XCTAssertTrue(TestKit.poll { self.counts(tunnel) == [3, 1] }, "a full handshake: \(counts(tunnel))")
        try echo(through: port, seed: 4)
        XCTAssertTrue(TestKit.poll { self.counts(tunnel) == [4, 2] }, "then the new server's session resumes: \(counts(tunnel))")
        XCTAssertEqual(tunnel.snapshot.failed, 0, tunnel.snapshot.lastError ?? "")
        await engine.shutdown()
        await target.stop()
    }

    /// The built `purr` with a warm pool says so in its debug log: pooled connections dialed once the
    /// server has given a session resume it.
    func testPooledConnectionsResumeAndTheDebugLogSaysSo() async throws {
        let certificates = try TestCertificates.make()
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let serverPort = RunningProcess.freePort()
        let server = try startServer(port: serverPort, target: target, certificates: certificates)
        defer { server.stop() }
        let client = try RunningProcess(
            "purr",
            [
                "connect", "https://localhost:\(serverPort)/t", "--ca-file", certificates.caFile, "--pool", "1", "--log-level", "debug",
            ])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = try XCTUnwrap(client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        let port = try XCTUnwrap(Int(line.split(separator: ":").last!))
        // The first pooled connection and its replacement were handshaken before the server gave a session;
        // the replacement dialed when the second is taken offers the first one's.
        for seed in UInt64(1)...3 { try echo(through: port, seed: seed) }
        XCTAssertTrue(client.waitForOutput("TLS session resumed"), client.stderr)
        XCTAssertTrue(client.stderr.contains("server=localhost:\(serverPort)"), client.stderr)
        XCTAssertTrue(client.stderr.contains("TLS full handshake"), client.stderr)
        // Stopping closes the idle pooled TLS connections at once: before, swift-nio-ssl held each for
        // its 5 s shutdown timeout (half-closure on), and the process with them.
        XCTAssertEqual(client.signal(SIGTERM, timeout: 3), 0, "purr exits promptly with pooled TLS connections")
        await target.stop()
    }

    // MARK: The cache and its contexts, against an in-process TLS echo server

    /// The tunnel's context is made anew at each open; a connection of the previous one (still up,
    /// its ticket arriving late) must not give the new context a session, nor the other way round.
    func testSessionsStayWithTheContextTheCacheWasLastAttachedTo() async throws {
        let certificates = try TestCertificates.make()
        let server = try await TLSEchoStandIn.start(certificates: certificates, group: group)
        let cache = TLSSessionCache(logger: InProcessServer.quietLogger)
        let old = try ClientTLS.makeContext(caFile: certificates.caFile, insecure: false)
        let new = try ClientTLS.makeContext(caFile: certificates.caFile, insecure: false)
        XCTAssertTrue(cache.attach(to: old))
        XCTAssertTrue(cache.attach(to: new))
        let port = server.port
        try await server.exchange("old") { try ClientTLS.makeHandler(context: old, host: "localhost", port: port) }
        try await server.exchange("new 1") { try ClientTLS.makeHandler(context: new, host: "localhost", port: port) }
        XCTAssertEqual(self.counts(cache), [2, 0], "the old context's session is not offered")
        try await server.exchange("new 2") { try ClientTLS.makeHandler(context: new, host: "localhost", port: port) }
        XCTAssertEqual(self.counts(cache), [3, 1], "the new context's own session is")
        await server.stop()
    }

    /// A context belongs to the first cache attached to it: a second one is refused, and counts nothing.
    func testASecondCacheIsNotAttachedToAContextThatHasOne() async throws {
        let certificates = try TestCertificates.make()
        let server = try await TLSEchoStandIn.start(certificates: certificates, group: group)
        let first = TLSSessionCache(logger: InProcessServer.quietLogger)
        let second = TLSSessionCache(logger: InProcessServer.quietLogger)
        let context = try ClientTLS.makeContext(caFile: certificates.caFile, insecure: false)
        XCTAssertTrue(first.attach(to: context))
        XCTAssertTrue(first.attach(to: context), "attaching the same cache again is fine")
        XCTAssertFalse(second.attach(to: context))
        let port = server.port
        for text in ["one", "two"] {
            try await server.exchange(text) { try ClientTLS.makeHandler(context: context, host: "localhost", port: port) }
        }
        XCTAssertEqual(self.counts(first), [2, 1])
        XCTAssertEqual(self.counts(second), [0, 0])
        await server.stop()
    }
}
