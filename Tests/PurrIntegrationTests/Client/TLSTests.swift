import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// TLS end to end: a private CA, verification in words, --insecure, SIGHUP reload, admin over HTTPS.
final class TLSTests: XCTestCase {
    let group = InProcessServer.group

    func echoOverTLS(_ tunnel: Tunnel, bytes: Int = 4 << 20) throws {
        let payload = TestKit.randomPayload(count: bytes, seed: 9)
        let socket = try BlockingSocket(port: tunnel.snapshot.port!, timeout: 20)
        let outcome = try Duplex.exchange(socket, payload: payload, expect: payload.count)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload))
    }

    func testVerifiedInsecureAndUntrusted() async throws {
        let certificates = try TestCertificates.make()
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        var config = ServerConfig()
        config.listen = HostPort(host: "127.0.0.1", port: 0)
        config.routes = [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))]
        let tls = try ServerTLS(certificatePath: certificates.certificateFile, keyPath: certificates.keyFile)
        let server = PurrServer(config: config, group: group, logger: InProcessServer.quietLogger, tls: tls)
        try await server.start()
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        let url = try ServerURL(parsing: "https://localhost:\(server.port)/t")

        var trusted = TunnelConfig(name: "trusted", url: url)
        trusted.caFile = certificates.caFile
        let good = try engine.add(trusted)
        await good.open()
        try echoOverTLS(good)
        XCTAssertEqual(good.snapshot.failed, 0, good.snapshot.lastError ?? "")

        let untrusted = try engine.add(TunnelConfig(name: "untrusted", url: url))
        await untrusted.open()
        let refused = try BlockingSocket(port: untrusted.snapshot.port!)
        XCTAssertEqual(try refused.readToEnd(), [])
        XCTAssertTrue(TestKit.poll { untrusted.snapshot.failed == 1 })
        XCTAssertTrue(
            untrusted.snapshot.lastError?.hasPrefix("certificate for localhost not trusted:") ?? false, untrusted.snapshot.lastError ?? "")

        var insecure = TunnelConfig(name: "insecure", url: url)
        insecure.insecure = true
        let blind = try engine.add(insecure)
        await blind.open()
        try echoOverTLS(blind, bytes: 64 * 1024)

        // A plain-HTTP client against the TLS port gets nothing it can mistake for a 101.
        let plain = try engine.add(TunnelConfig(name: "plain", url: try ServerURL(parsing: "http://localhost:\(server.port)/t")))
        await plain.open()
        let confused = try BlockingSocket(port: plain.snapshot.port!)
        XCTAssertEqual(try confused.readToEnd(), [])
        XCTAssertTrue(TestKit.poll { plain.snapshot.failed == 1 })
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    func testSIGHUPReloadsTheCertificateWithoutDroppingRelays() async throws {
        let first = try TestCertificates.make(name: "one")
        let second = try TestCertificates.make(name: "two")
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let live = FileManager.default.temporaryDirectory.appendingPathComponent("live-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: first.certificateFile, toPath: "\(live)/server.pem")
        try FileManager.default.copyItem(atPath: first.keyFile, toPath: "\(live)/server.key")
        let port = RunningProcess.freePort()
        let process = try RunningProcess(
            "purr-server",
            [
                "--listen", "127.0.0.1:\(port)", "--route", "/t=127.0.0.1:\(target.port)", "--tls-cert", "\(live)/server.pem",
                "--tls-key", "\(live)/server.key", "--admin-port", "0", "--admin-tls",
            ])
        defer { process.stop() }
        XCTAssertTrue(process.waitForOutput("admin on"), process.stderr)
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        func tunnel(_ name: String, trusting ca: String) async throws -> Tunnel {
            var config = TunnelConfig(name: name, url: try ServerURL(parsing: "https://localhost:\(port)/t"))
            config.caFile = ca
            let tunnel = try engine.add(config)
            await tunnel.open()
            return tunnel
        }
        let old = try await tunnel("old", trusting: first.caFile)
        let held = try BlockingSocket(port: old.snapshot.port!)
        try held.write("before")
        XCTAssertEqual(try held.read(exactly: 6), Array("before".utf8))

        try FileManager.default.removeItem(atPath: "\(live)/server.pem")
        try FileManager.default.removeItem(atPath: "\(live)/server.key")
        try FileManager.default.copyItem(atPath: second.certificateFile, toPath: "\(live)/server.pem")
        try FileManager.default.copyItem(atPath: second.keyFile, toPath: "\(live)/server.key")
        kill(process.pid, SIGHUP)
        XCTAssertTrue(process.waitForOutput("TLS certificate reloaded"), process.stderr)
        try held.write("after")
        XCTAssertEqual(try held.read(exactly: 5), Array("after".utf8), "the relay that was up keeps going")
        let renewed = try await tunnel("new", trusting: second.caFile)
        try echoOverTLS(renewed, bytes: 1024)
        let stale = try BlockingSocket(port: old.snapshot.port!)
        XCTAssertEqual(try stale.readToEnd(), [], "the old CA no longer matches")
        XCTAssertTrue(TestKit.poll { old.snapshot.lastError?.contains("not trusted") ?? false }, old.snapshot.lastError ?? "")

        // The admin endpoint speaks HTTPS with the same (reloaded) certificate.
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("admin on") })
        let adminPort = try XCTUnwrap(Int(line.split(separator: ":").last!))
        let curl = try RunningProcess.run(
            absolute: "/usr/bin/curl", ["-s", "--cacert", second.caFile, "https://localhost:\(adminPort)/healthz"], timeout: 20)
        XCTAssertEqual(curl.stdout, "ok\n", curl.stderr)
        await engine.shutdown()
    }

    func testBadTLSFilesAreRefusedAtStart() throws {
        let certificates = try TestCertificates.make()
        let cases: [([String], String)] = [
            (["--tls-cert", certificates.certificateFile], "--tls-cert and --tls-key"),
            (["--tls-cert", "/nonexistent.pem", "--tls-key", certificates.keyFile], "/nonexistent.pem: not a PEM certificate chain"),
            (["--tls-cert", certificates.certificateFile, "--tls-key", certificates.caFile], "not a PEM private key"),
            (["--admin-port", "0", "--admin-tls"], "--admin-tls needs --tls-cert"),
        ]
        for (arguments, expected) in cases {
            let result = try RunningProcess.run("purr-server", ["--listen", "127.0.0.1:0"] + arguments)
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), result.stderr)
        }
    }
}
