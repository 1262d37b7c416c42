import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// The built `purr-server` with `resolver` routes, a real resolver service on 127.0.0.1 and real
/// targets: tunnels, the cache, the allow list, refusals, a resolver that hangs or is down, reloads.
final class ResolverEndToEndTests: XCTestCase {
    let group = InProcessServer.group

    /// A Purr upgrade with the client's token and extra headers.
    func open(_ path: String, port: Int, token: String?, headers: [String] = []) throws -> (BlockingSocket, String) {
        let socket = try BlockingSocket(port: port, timeout: 15)
        var lines = [
            "GET \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: Upgrade", "Upgrade: purr", "Purr-Request: MEOW",
            "Purr-Version: 0.1.2",
        ]
        if let token { lines.append("Authorization: Bearer \(token)") }
        lines += headers
        try socket.write(lines.joined(separator: "\r\n") + "\r\n\r\n")
        let (head, _) = try socket.readHead()
        return (socket, head)
    }

    func echo(_ socket: BlockingSocket, _ text: String) throws -> String {
        try socket.write(text)
        return String(decoding: try socket.read(exactly: text.utf8.count), as: UTF8.self)
    }

    func testTunnelsGoWhereTheResolverSaysAndTheAnswerIsCached() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let resolver = try await ResolverStandIn.start(group: group) { request in
            request.document?.token == "alice-token"
                ? .target("127.0.0.1:\(target.port)", ttl: 30) : .refuse(403, message: "console 42 is not yours")
        }
        defer { resolver.close() }
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/console"
                resolver = "\(resolver.url)"
                resolver_token = "resolver-secret"
                resolver_headers = ["X-Session"]
                allow = ["127.0.0.1:*"]
                """)
        defer { server.stop() }

        let (first, firstHead) = try open("/console/42", port: port, token: "alice-token", headers: ["X-Session: s1"])
        XCTAssertTrue(firstHead.hasPrefix("HTTP/1.1 101"), firstHead)
        XCTAssertEqual(try echo(first, "hello"), "hello")
        let (second, secondHead) = try open("/console/42", port: port, token: "alice-token", headers: ["X-Session: s1"])
        XCTAssertTrue(secondHead.hasPrefix("HTTP/1.1 101"), secondHead)
        XCTAssertEqual(try echo(second, "again"), "again")
        first.close()
        second.close()
        XCTAssertEqual(resolver.requests.count, 1, "two tunnels within the ttl: one question")
        let document = try XCTUnwrap(resolver.requests.first?.document)
        XCTAssertEqual(document.path, "/console/42")
        XCTAssertEqual(document.route, "/console")
        XCTAssertEqual(document.token, "alice-token")
        XCTAssertEqual(document.headers, ["X-Session": "s1"])
        XCTAssertEqual(document.peer?.hasPrefix("127.0.0.1:"), true)
        XCTAssertEqual(resolver.requests.first?.header("Authorization"), "Bearer resolver-secret")

        // The built client, with its token and a header the resolver reads; within the ttl: still one question.
        let client = try RunningProcess(
            "purr",
            ["connect", "http://127.0.0.1:\(port)/console/42", "--token", "alice-token", "-H", "X-Session: s1", "--listen", "127.0.0.1:0"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = try XCTUnwrap(client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        let localPort = try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!))
        let viaClient = try BlockingSocket(port: localPort, timeout: 15)
        XCTAssertEqual(try echo(viaClient, "via purr connect"), "via purr connect")
        viaClient.close()
        XCTAssertEqual(resolver.requests.count, 1)

        let refused = try BlockingSocket.refusal(path: "/console/42", port: port, token: "mallory-token")
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.body, "console 42 is not yours")
        XCTAssertEqual(server.signal(SIGTERM), 0)
        for secret in ["alice-token", "mallory-token", "resolver-secret"] {
            XCTAssertFalse(server.stderr.contains(secret), "a token in the log: \(server.stderr)")
        }
    }

    func testTheAllowListAppliesToTheResolversAnswer() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .target("127.0.0.1:22") }
        defer { resolver.close() }
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/console"
                resolver = "\(resolver.url)"
                allow = ["127.0.0.1:5900-5999"]
                """)
        defer { server.stop() }
        let refused = try BlockingSocket.refusal(path: "/console", port: port, token: "t")
        XCTAssertEqual(refused.status, 403)
        XCTAssertTrue(refused.body.contains("127.0.0.1:22"), refused.body)
        XCTAssertEqual(resolver.requests.count, 1)
    }

    func testASlowOrDeadResolverIsAnAnswerNotAHang() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .hang }
        let deadPort = RunningProcess.freePort()
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/slow"
                resolver = "\(resolver.url)"
                resolver_timeout = 0.5
                allow = ["127.0.0.1:*"]

                [[routes]]
                path = "/dead"
                resolver = "http://127.0.0.1:\(deadPort)/resolve"
                allow = ["127.0.0.1:*"]

                [[routes]]
                path = "/broken"
                resolver = "\(resolver.url)"
                allow = ["127.0.0.1:*"]
                """)
        defer { server.stop() }
        let slow = try BlockingSocket.refusal(path: "/slow", port: port, token: nil)
        XCTAssertEqual(slow.status, 504)
        XCTAssertEqual(slow.body, "the resolver did not answer within 0.5 s")
        let dead = try BlockingSocket.refusal(path: "/dead", port: port, token: nil)
        XCTAssertEqual(dead.status, 502)
        XCTAssertEqual(dead.body, "the resolver is unreachable: connection refused")
        resolver.respond { _ in .answer(status: 200, body: "<html>") }
        let broken = try BlockingSocket.refusal(path: "/broken", port: port, token: nil)
        XCTAssertEqual(broken.status, 502)
        XCTAssertTrue(broken.body.hasPrefix("the resolver's answer is not JSON"), broken.body)
        resolver.close()
    }

    func testHTTPSResolverWithACAFileBesideTheConfig() async throws {
        let certificates = try TestCertificates.make(name: "resolver-e2e")
        defer { try? FileManager.default.removeItem(atPath: certificates.directory) }
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let resolver = try await ResolverStandIn.start(group: group, tls: certificates) { _ in .target("127.0.0.1:\(target.port)") }
        defer { resolver.close() }
        let config = "\(certificates.directory)/server.toml"
        try """
        [[routes]]
        path = "/console"
        resolver = "\(resolver.url)"
        resolver_ca_file = "ca.pem"
        allow = ["127.0.0.1:*"]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let port = RunningProcess.freePort()
        let server = try RunningProcess("purr-server", ["--listen", "127.0.0.1:\(port)", "--config", config])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening"), server.stderr)
        let (socket, head) = try open("/console", port: port, token: nil)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), head)
        XCTAssertEqual(try echo(socket, "over https"), "over https")
    }

    /// Each reload makes new resolver clients; the old ones close their connections once unused.
    func testReloadsDoNotLeakResolverClients() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let resolver = try await ResolverStandIn.start(group: group) { _ in .target("127.0.0.1:\(target.port)") }
        defer { resolver.close() }
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/console"
                resolver = "\(resolver.url)"
                allow = ["127.0.0.1:*"]
                """)
        defer { server.stop() }
        for round in 1...5 {
            let (socket, head) = try open("/console", port: port, token: nil)
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), head)
            socket.close()
            if round == 1 { XCTAssertEqual(resolver.openConnections, 1, "the client keeps its connection to the resolver") }
            kill(server.pid, SIGHUP)
            XCTAssertTrue(TestKit.poll { server.stderr.components(separatedBy: "config reloaded").count > round }, server.stderr)
        }
        XCTAssertEqual(resolver.requests.count, 5)
        let released = TestKit.poll(timeout: 15) { resolver.openConnections <= 1 }
        XCTAssertTrue(released, "connections to the resolver still open: \(resolver.openConnections)")
    }

    /// Shutting the server down closes its resolver connections, though the application keeps the object.
    func testShutdownClosesTheResolverConnections() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let resolver = try await ResolverStandIn.start(group: group) { _ in .target("127.0.0.1:\(target.port)") }
        defer { resolver.close() }
        let source = ResolverSource(config: try ResolverConfig(url: resolver.url), group: group)
        let route = try Route(
            path: "/console", target: .source(source, summary: source.config.description), allow: try AllowList(["127.0.0.1:*"]))
        let server = try await InProcessServer.start(routes: [route])
        let socket = try BlockingSocket(port: server.port, timeout: 15)
        let (head, _) = try socket.upgrade(path: "/console", port: server.port)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), head)
        socket.close()
        XCTAssertEqual(resolver.openConnections, 1)
        await server.shutdown(drainTimeout: 1)
        let closed = TestKit.poll { resolver.openConnections == 0 }
        XCTAssertTrue(closed, "connections to the resolver after shutdown: \(resolver.openConnections)")
        withExtendedLifetime(server) {}
    }

    func testBadResolverKeysStopTheServerWithOneLine() throws {
        let cases: [(String, String)] = [
            ("resolver = \"ftp://x/r\"\nallow = [\"127.0.0.1:*\"]", "routes[0].resolver: 'ftp://x/r': expected an http:// or https:// URL"),
            ("resolver = \"http://127.0.0.1:1/r\"", "routes[0].allow: missing"),
            ("target = \"127.0.0.1:22\"\nresolver_timeout = 1", "routes[0].resolver_timeout: only for a route with resolver"),
            (
                "jwt_audience = \"purr\"\nresolver = \"http://127.0.0.1:1/r\"\nallow = [\"127.0.0.1:*\"]",
                "routes[0].jwt_audience: only for a route with jwt_key or jwt_public_key_file"
            ),
            (
                "resolver = \"http://127.0.0.1:1/r\"\nresolver_timeout = 600\nallow = [\"127.0.0.1:*\"]",
                "routes[0].resolver_timeout: 600.0 is out of range"
            ),
        ]
        for (keys, expected) in cases {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("purr-\(UUID().uuidString).toml").path
            try "[[routes]]\npath = \"/c\"\n\(keys)\n".write(toFile: path, atomically: true, encoding: .utf8)
            let result = try RunningProcess.run("purr-server", ["--config", path])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), "\(result.stderr) should contain \(expected)")
        }
    }
}
