import Foundation
import NIOCore
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The built `purr connect` through real HTTP proxies (tinyproxy answers CONNECT with HTTP/1.0, squid
/// with HTTP/1.1), with and without basic auth, to the built purr-server over http:// and https://;
/// refusals in one line; the warm pool and WebSocket through them. The proxies run as the tests start
/// them: own config, loopback, a free port.
final class RealProxyTests: XCTestCase {
    static let credentials = "alice:s3cret-Pw"
    let group = InProcessServer.group

    /// An echo target behind two built purr-servers, one plain and one with TLS.
    final class Servers {
        let target: TestTarget
        let plain: RunningProcess
        let plainPort: Int
        let tls: RunningProcess
        let tlsPort: Int
        let caFile: String

        init(group: any EventLoopGroup) async throws {
            target = try await TestTarget.start(.echo(banner: nil), group: group)
            let route = ["--route", "/t=127.0.0.1:\(target.port)"]
            (plain, plainPort) = try RunningProcess.purrServer(config: "", arguments: route)
            let certificates = try TestCertificates.make()
            caFile = certificates.caFile
            (tls, tlsPort) = try RunningProcess.purrServer(
                config: "", arguments: route + ["--tls-cert", certificates.certificateFile, "--tls-key", certificates.keyFile])
        }

        func stop() async {
            plain.stop()
            tls.stop()
            await target.stop()
        }
    }

    /// `purr connect` for `url` through `proxy`; returns it and the port it listens on.
    func connect(_ url: String, proxy: String, _ extra: [String] = []) throws -> (RunningProcess, Int) {
        let process = try RunningProcess("purr", ["connect", url, "--proxy", proxy, "--log-level", "debug"] + extra)
        XCTAssertTrue(process.waitForOutput("listening on"), process.stderr)
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        return (process, try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!)))
    }

    func exchange(port: Int, bytes: Int, seed: UInt64, _ label: String) throws {
        let payload = TestKit.randomPayload(count: bytes, seed: seed)
        let socket = try BlockingSocket(port: port, timeout: 30)
        let outcome = try Duplex.exchange(socket, payload: payload, expect: payload.count)
        XCTAssertEqual(outcome.receivedBytes, payload.count, label)
        XCTAssertEqual(outcome.receivedSHA256, TestKit.sha256(payload), label)
    }

    /// 8 MiB byte-exact through `make`'s proxy, without and with basic auth, to http:// and https://.
    func eightMiBEveryWay(answer version: String, _ make: ([Int], String?) throws -> any ForwardProxy) async throws {
        let servers = try await Servers(group: group)
        for credentials in [nil, Self.credentials] {
            let proxy = try make([servers.plainPort, servers.tlsPort], credentials)
            let answer = try proxy.connectAnswer(to: servers.plainPort, credentials: credentials)
            XCTAssertTrue(answer.hasPrefix("\(version) 200"), "\(proxy.name) answers CONNECT with \(version): \(answer)")
            let urls = [
                ("http://127.0.0.1:\(servers.plainPort)/t", [String]()),
                ("https://127.0.0.1:\(servers.tlsPort)/t", ["--ca-file", servers.caFile]),
            ]
            for (seed, (url, extra)) in urls.enumerated() {
                let label = "\(proxy.name) \(credentials == nil ? "open" : "basic auth") \(url)"
                let (process, port) = try connect(url, proxy: proxy.url(credentials: credentials), extra)
                try exchange(port: port, bytes: 8 << 20, seed: UInt64(seed + 1), label)
                XCTAssertTrue(process.waitForOutput(" close"), label)
                if url.hasPrefix("https") {
                    // The app half-closes and waits for the rest: it all comes back (the close_notify
                    // tells the server; the FIN that would make the proxy cut both ways is held back).
                    let payload = TestKit.randomPayload(count: 1 << 20, seed: 99)
                    let halfClosed = try Duplex.exchange(try BlockingSocket(port: port, timeout: 30), payload: payload)
                    XCTAssertEqual(halfClosed.receivedSHA256, TestKit.sha256(payload), "\(label): after a half-close")
                }
                XCTAssertEqual(process.signal(SIGTERM), 0, label)
                let counted = process.stderr.contains("up=8388608") && process.stderr.contains("down=8388608")
                XCTAssertTrue(counted, "\(label): \(process.stderr)")
                XCTAssertFalse(process.stderr.contains("s3cret") || process.stdout.contains("s3cret"), "\(label): credentials logged")
            }
            proxy.stop()
        }
        await servers.stop()
    }

    func testTinyproxy8MiBOverHTTPAndHTTPSWithAndWithoutBasicAuth() async throws {
        try await eightMiBEveryWay(answer: "HTTP/1.0") { try TinyproxyProcess(connectPorts: $0, credentials: $1) }
    }

    func testSquid8MiBOverHTTPAndHTTPSWithAndWithoutBasicAuth() async throws {
        try await eightMiBEveryWay(answer: "HTTP/1.1") { try SquidProcess(connectPorts: $0, credentials: $1) }
    }

    /// Without credentials, with wrong ones, and to a port the proxy does not allow: one line with the
    /// proxy's status, never the password; the tunnel keeps listening.
    func refusals(_ proxy: any ForwardProxy, servers: Servers, wrongCredentials status: String, forbidden: String) throws {
        let cases = [
            (nil as String?, servers.plainPort, "407 Proxy Authentication Required"),
            ("alice:wrong-Pw", servers.plainPort, status),
            (Self.credentials, servers.tlsPort, forbidden),
        ]
        for (credentials, serverPort, status) in cases {
            let (process, port) = try connect("http://127.0.0.1:\(serverPort)/t", proxy: proxy.url(credentials: credentials))
            let socket = try BlockingSocket(port: port, timeout: 20)
            XCTAssertEqual(try socket.readToEnd(), [], "\(proxy.name): the app's connection is closed")
            let line = "reason=proxy 127.0.0.1:\(proxy.port) refused CONNECT: \(status)"
            XCTAssertTrue(process.waitForOutput(line), "\(proxy.name) \(status): \(process.stderr)")
            XCTAssertNoThrow(try BlockingSocket(port: port), "still listening")
            XCTAssertEqual(process.signal(SIGTERM), 0)
            XCTAssertFalse(process.stderr.contains("-Pw") || process.stdout.contains("-Pw"), "credentials logged: \(process.stderr)")
        }
        proxy.stop()
    }

    func testRefusalsAreOneLineWithTheProxysStatus() async throws {
        let servers = try await Servers(group: group)
        let allowed = [servers.plainPort]
        // tinyproxy answers wrong credentials with 401 (sic), squid with 407; a port not allowed: 403.
        try refusals(
            try TinyproxyProcess(connectPorts: allowed, credentials: Self.credentials), servers: servers,
            wrongCredentials: "401 Unauthorized", forbidden: "403 Access violation")
        try refusals(
            try SquidProcess(connectPorts: allowed, credentials: Self.credentials), servers: servers,
            wrongCredentials: "407 Proxy Authentication Required", forbidden: "403 Forbidden")
        await servers.stop()
    }

    /// A warm pool's connections through both proxies with auth: real WebSocket (ws://) and https://
    /// (TLS starts inside the proxy's tunnel, before the connection waits in the pool); the last app
    /// connection half-closes and still gets every byte back.
    func testWarmPoolAndWebSocketThroughBothProxies() async throws {
        let servers = try await Servers(group: group)
        let proxies: [any ForwardProxy] = [
            try TinyproxyProcess(connectPorts: [servers.plainPort, servers.tlsPort], credentials: Self.credentials),
            try SquidProcess(connectPorts: [servers.plainPort, servers.tlsPort], credentials: Self.credentials),
        ]
        let engine = TunnelEngine(group: group, logger: InProcessServer.quietLogger, environment: [:])
        for proxy in proxies {
            for url in ["ws://127.0.0.1:\(servers.plainPort)/t", "https://127.0.0.1:\(servers.tlsPort)/t"] {
                let label = "\(proxy.name) \(url) pool 2"
                var config = TunnelConfig(
                    name: "\(proxy.name)-\(url.prefix(2))", url: try ServerURL(parsing: url),
                    proxy: try ProxySettings(parsing: proxy.url(credentials: Self.credentials)))
                config.pool = 2
                config.caFile = servers.caFile
                let tunnel = try engine.add(config)
                _ = await tunnel.open()
                let pool = { tunnel.snapshot.pool ?? WarmPoolSnapshot(size: -1) }
                XCTAssertTrue(TestKit.poll(timeout: 20) { pool().idle == 2 }, "\(label): \(pool()) \(tunnel.snapshot.lastError ?? "")")
                for round in 1...3 {
                    try exchange(port: try XCTUnwrap(tunnel.snapshot.port), bytes: 1 << 20, seed: UInt64(10 + round), "\(label) #\(round)")
                }
                // A half-close survives: close frames (ws://), close_notify with the FIN held back (https://).
                let payload = TestKit.randomPayload(count: 1 << 20, seed: 99)
                let socket = try BlockingSocket(port: try XCTUnwrap(tunnel.snapshot.port), timeout: 30)
                XCTAssertEqual(try Duplex.exchange(socket, payload: payload).receivedSHA256, TestKit.sha256(payload), label)
                XCTAssertTrue(TestKit.poll { pool().used == 4 }, "\(label): \(pool())")
                XCTAssertEqual(pool().misses, 0, "\(label): every app connection took a ready one")
                XCTAssertEqual(tunnel.snapshot.failed, 0, "\(label): \(tunnel.snapshot.lastError ?? "")")
                await engine.remove(config.name)
            }
            proxy.stop()
        }
        await engine.shutdown()
        await servers.stop()
    }
}
