import Foundation
import NIOCore
import NIOHTTP1
import PurrCore
import PurrTestSupport
import Synchronization
import XCTest

@testable import PurrServer

/// The resolver source against a real resolver service on 127.0.0.1: the document it sends, every kind
/// of answer, timeouts, the cache, https, and the HTTP client's lifetime.
final class ResolverSourceTests: XCTestCase {
    let group = InProcessServer.group

    func request(
        path: String = "/console/42", token: String? = "user-token-1", headers: HTTPHeaders = [:], captures: [String: String] = [:]
    ) throws -> TargetRequest {
        TargetRequest(
            path: path, routePath: "/console", captures: captures, host: "purr.example.com:8080", headers: headers,
            peer: try SocketAddress(ipAddress: "127.0.0.1", port: 51234), token: token)
    }

    func refusal(_ source: ResolverSource, _ request: TargetRequest) async -> TargetRefusal? {
        do {
            let target = try await source.target(for: request)
            XCTFail("expected a refusal, got \(target)")
            return nil
        } catch {
            return error
        }
    }

    func testSendsOneDocumentAndUsesTheTarget() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .target("10.0.0.5:5901") }
        defer { resolver.close() }
        let config = try ResolverConfig(url: resolver.url, token: "resolver-secret", headers: ["X-Session", "X-Absent"])
        let source = ResolverSource(config: config, group: group)
        let headers: HTTPHeaders = ["X-Session": "abc", "Cookie": "private=1", "Host": "purr.example.com:8080"]
        let target = try await source.target(for: try request(headers: headers, captures: ["id": "42"]))
        await source.shutdown()
        XCTAssertEqual(target, HostPort(host: "10.0.0.5", port: 5901))

        let requests = resolver.requests
        XCTAssertEqual(requests.count, 1)
        let sent = try XCTUnwrap(requests.first)
        XCTAssertEqual(sent.method, "POST")
        XCTAssertEqual(sent.uri, "/purr/resolve")
        XCTAssertEqual(sent.header("Authorization"), "Bearer resolver-secret")
        XCTAssertEqual(sent.header("Content-Type"), "application/json")
        XCTAssertEqual(
            sent.document,
            ResolverDocument(
                path: "/console/42", host: "purr.example.com:8080", route: "/console", peer: "127.0.0.1:51234", token: "user-token-1",
                captures: ["id": "42"], headers: ["X-Session": "abc"]))
        XCTAssertFalse(sent.body.contains("private=1"), "only the selected headers travel: \(sent.body)")
    }

    func testRefusalsPassTheResolversStatusAndMessage() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .refuse(403, message: "console 42 is not yours") }
        defer { resolver.close() }
        let source = ResolverSource(config: try ResolverConfig(url: resolver.url), group: group)
        let cases: [(ResolverStandIn.Behaviour, TargetRefusal)] = [
            (
                .refuse(403, message: "console 42 is not yours"),
                TargetRefusal(status: 403, message: "console 42 is not yours", reason: "resolver_refused")
            ),
            (
                .answer(status: 404, body: "no such machine\nsecond line", contentType: "text/plain"),
                TargetRefusal(status: 404, message: "no such machine", reason: "resolver_refused")
            ),
            (.answer(status: 429, body: "{}"), TargetRefusal(status: 429, message: "refused by the resolver", reason: "resolver_refused")),
            (
                .answer(status: 403, body: "bad\u{1b}[31m\u{0}text", contentType: "text/plain"),
                TargetRefusal(status: 403, message: "bad[31mtext", reason: "resolver_refused")
            ),
            (
                .refuse(500, message: "database down"),
                TargetRefusal(status: 502, message: "the resolver failed with 500: database down", reason: "resolver_failed")
            ),
            (
                .answer(status: 302, body: ""),
                TargetRefusal(
                    status: 502, message: "the resolver answered 302 (expected 2xx with a target, or 4xx)", reason: "resolver_failed")
            ),
        ]
        for (behaviour, expected) in cases {
            resolver.respond { _ in behaviour }
            let refusal = await refusal(source, try request())
            XCTAssertEqual(refusal, expected)
        }
        await source.shutdown()
    }

    func testMalformedAnswersAre502WithTheirReason() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .target("x") }
        defer { resolver.close() }
        let source = ResolverSource(config: try ResolverConfig(url: resolver.url), group: group)
        let cases: [(String, String)] = [
            ("<html>oops</html>", "the resolver's answer is not JSON"),
            ("{\"host\": \"10.0.0.5\"}", "the resolver's answer has no 'target'"),
            ("{\"target\": \"10.0.0.5\"}", "the resolver's target: '10.0.0.5': expected HOST:PORT"),
            ("{\"target\": \"10.0.0.5:99999\"}", "the resolver's target: '10.0.0.5:99999': the port must be a number 1-65535"),
            ("{\"target\": 5}", "the resolver's 'target' has the wrong type"),
            ("{\"target\": \"10.0.0.5:22\", \"ttl\": \"soon\"}", "the resolver's 'ttl' has the wrong type"),
            ("{\"target\": \"10.0.0.5:22\", \"ttl\": -1}", "the resolver's ttl must be a number of seconds, 0 or more"),
            (String(repeating: " ", count: 70_000), "the resolver's answer is over 64 KiB"),
        ]
        for (body, expected) in cases {
            resolver.respond { _ in .answer(status: 200, body: body) }
            let refusal = await refusal(source, try request())
            XCTAssertEqual(refusal?.status, 502, body)
            XCTAssertEqual(refusal?.reason, "resolver_failed", body)
            XCTAssertTrue(refusal?.message.hasPrefix(expected) ?? false, "\(refusal?.message ?? "nil") should start with \(expected)")
            XCTAssertFalse(refusal?.message.contains("\n") ?? true)
        }
        await source.shutdown()
    }

    func testASlowResolverIs504AndADeadOneIs502() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .hang }
        defer { resolver.close() }
        let source = ResolverSource(config: try ResolverConfig(url: resolver.url, timeout: 0.3), group: group)
        let expected = TargetRefusal(status: 504, message: "the resolver did not answer within 0.3 s", reason: "resolver_timeout")
        let hung = await refusal(source, try request())
        XCTAssertEqual(hung, expected)
        resolver.respond { _ in .hangAfterHead }
        let halfAnswered = await refusal(source, try request())
        XCTAssertEqual(halfAnswered, expected)
        await source.shutdown()
        // A hang-up is told apart from a timeout by the hang-up, not by the clock: a source whose deadline
        // a loaded machine cannot reach first (at 0.3 s, a slow connect could make the 502 a 504).
        resolver.respond { _ in .hangUp }
        let patient = ResolverSource(config: try ResolverConfig(url: resolver.url, timeout: 20), group: group)
        let hungUp = await refusal(patient, try request())
        XCTAssertEqual(hungUp?.status, 502)
        XCTAssertEqual(hungUp?.reason, "resolver_failed")
        await patient.shutdown()

        let closedPort = RunningProcess.freePort()
        let down = ResolverSource(config: try ResolverConfig(url: "http://127.0.0.1:\(closedPort)/resolve"), group: group)
        let refused = await refusal(down, try request())
        await down.shutdown()
        XCTAssertEqual(
            refused, TargetRefusal(status: 502, message: "the resolver is unreachable: connection refused", reason: "resolver_failed"))
    }

    func testAnswersAreCachedForTheirTTL() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .target("127.0.0.1:2222", ttl: 30) }
        defer { resolver.close() }
        let source = ResolverSource(config: try ResolverConfig(url: resolver.url, headers: ["X-Session"]), group: group)
        let first = try await source.target(for: try request())
        let second = try await source.target(for: try request())
        XCTAssertEqual(first, second)
        XCTAssertEqual(resolver.requests.count, 1, "the second request within the ttl is answered from the cache")
        // Another token, path or selected header is another question.
        _ = try await source.target(for: try request(token: "user-token-2"))
        _ = try await source.target(for: try request(path: "/console/43"))
        _ = try await source.target(for: try request(headers: ["X-Session": "other"]))
        XCTAssertEqual(resolver.requests.count, 4)
        // Headers not selected do not split the cache.
        _ = try await source.target(for: try request(headers: ["X-Unrelated": "1"]))
        XCTAssertEqual(resolver.requests.count, 4)

        // No ttl: asked every time; a short ttl: asked again once it passed.
        resolver.respond { _ in .target("127.0.0.1:2223") }
        let uncached = try request(token: "fresh")
        _ = try await source.target(for: uncached)
        _ = try await source.target(for: uncached)
        XCTAssertEqual(resolver.requests.count, 6)
        resolver.respond { _ in .target("127.0.0.1:2224", ttl: 0.2) }
        let short = try request(token: "short")
        _ = try await source.target(for: short)
        let askedAgain = await TestKit.pollAsync(timeout: 10) {
            _ = try? await source.target(for: short)
            return resolver.requests.count >= 8
        }
        XCTAssertTrue(askedAgain, "an answer is not used past its ttl")
        // Refusals are never cached.
        resolver.respond { _ in .refuse(403, message: "no") }
        let refused = try request(token: "refused")
        _ = await refusal(source, refused)
        _ = await refusal(source, refused)
        XCTAssertEqual(resolver.requests.filter { $0.document?.token == "refused" }.count, 2)
        await source.shutdown()
    }

    func testManyRequestsAtOnceAreAllAnswered() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { request in
            .target("127.0.0.1:\(5900 + Int(request.document?.token?.dropFirst(5) ?? "0")!)")
        }
        defer { resolver.close() }
        let source = ResolverSource(config: try ResolverConfig(url: resolver.url, timeout: 20), group: group)
        let requests = try (0..<200).map { try request(token: "user-\($0)") }
        let ports = await withTaskGroup(of: Int?.self) { group in
            for request in requests { group.addTask { try? await source.target(for: request).port } }
            var ports: [Int] = []
            for await port in group { ports.append(port ?? -1) }
            return ports
        }
        await source.shutdown()
        XCTAssertEqual(ports.sorted(), Array(5900..<6100))
        XCTAssertEqual(resolver.requests.count, 200)
        XCTAssertLessThanOrEqual(resolver.peakConnections, 64, "the client's pool is bounded")
    }

    /// A warm pool opens several connections at once with the same token: one question, one answer for all.
    func testTheSameQuestionAtOnceIsAskedOnce() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .hold }
        defer { resolver.close() }
        let source = ResolverSource(config: try ResolverConfig(url: resolver.url, timeout: 30), group: group)
        let same = try request()
        let lookups = (0..<10).map { _ in Task { try? await source.target(for: same) } }
        // The ten wait in the source before its one question reaches the resolver: released before it
        // is held, the question would be held past the end (seen under load).
        let allWaiting = await TestKit.pollAsync { source.waiting.load(ordering: .relaxed) == 10 && resolver.heldCount == 1 }
        XCTAssertTrue(allWaiting, "all ten are waiting, on one question the resolver holds")
        XCTAssertEqual(resolver.requests.count, 1)
        XCTAssertEqual(resolver.heldCount, 1)
        resolver.release(with: .target("127.0.0.1:5901"))
        for lookup in lookups {
            let target = await lookup.value
            XCTAssertEqual(target, HostPort(host: "127.0.0.1", port: 5901))
        }
        // No ttl: the next question is asked again; a refusal reaches every waiter too.
        let again = (0..<3).map { _ in
            Task { () -> TargetRefusal? in
                do throws(TargetRefusal) {
                    _ = try await source.target(for: same)
                    return nil
                } catch {
                    return error
                }
            }
        }
        let threeWaiting = await TestKit.pollAsync { source.waiting.load(ordering: .relaxed) == 3 && resolver.heldCount == 1 }
        XCTAssertTrue(threeWaiting, "all three are waiting, on one question the resolver holds")
        XCTAssertEqual(resolver.requests.count, 2)
        resolver.release(with: .refuse(403, message: "not now"))
        for lookup in again {
            let refused = await lookup.value
            XCTAssertEqual(refused, TargetRefusal(status: 403, message: "not now", reason: "resolver_refused"))
        }
        await source.shutdown()
    }

    func testTheCacheIsBounded() throws {
        let cache = ResolverCache(capacity: 3)
        let now = ContinuousClock.now
        func key(_ n: Int) -> ResolverCache.Key {
            ResolverCache.Key(ResolverDocument(path: "/p\(n)", host: nil, route: "/p", peer: nil, token: nil, captures: [:], headers: [:]))
        }
        for n in 0..<3 { cache.store(HostPort(host: "h", port: 1000 + n), for: key(n), ttl: Double(10 + n), now: now) }
        XCTAssertEqual(cache.count, 3)
        cache.store(HostPort(host: "h", port: 2000), for: key(9), ttl: 60, now: now)
        XCTAssertEqual(cache.count, 3)
        XCTAssertNil(cache.lookup(key(0), now: now), "the answer closest to expiring made room")
        XCTAssertEqual(cache.lookup(key(9), now: now)?.port, 2000)
        XCTAssertEqual(cache.lookup(key(1), now: now)?.port, 1001)
        XCTAssertNil(cache.lookup(key(1), now: now + .seconds(11)), "expired")
        // Expired entries go first when room is needed.
        cache.store(HostPort(host: "h", port: 3000), for: key(7), ttl: 60, now: now + .seconds(20))
        XCTAssertEqual(cache.lookup(key(9), now: now + .seconds(20))?.port, 2000)
        XCTAssertEqual(cache.lookup(key(7), now: now + .seconds(20))?.port, 3000)
        // The ttl is capped.
        XCTAssertEqual(
            try ResolverAnswer.interpret(status: 200, body: Array("{\"target\":\"a:1\",\"ttl\":1e9}".utf8)).ttl, ResolverAnswer.maxTTL)
    }

    func testHTTPSWithAPrivateCA() async throws {
        let certificates = try TestCertificates.make(name: "resolver")
        defer { try? FileManager.default.removeItem(atPath: certificates.directory) }
        let resolver = try await ResolverStandIn.start(group: group, tls: certificates) { _ in .target("127.0.0.1:5900") }
        defer { resolver.close() }
        let trusted = ResolverSource(config: try ResolverConfig(url: resolver.url, caFile: certificates.caFile), group: group)
        let target = try await trusted.target(for: try request())
        await trusted.shutdown()
        XCTAssertEqual(target, HostPort(host: "127.0.0.1", port: 5900))

        let untrusted = ResolverSource(config: try ResolverConfig(url: resolver.url), group: group)
        let refused = await refusal(untrusted, try request())
        await untrusted.shutdown()
        XCTAssertEqual(refused?.status, 502)
        XCTAssertEqual(refused?.reason, "resolver_failed")
        XCTAssertTrue(refused?.message.hasPrefix("TLS with the resolver failed") ?? false, refused?.message ?? "")
        XCTAssertEqual(resolver.requests.count, 1, "nothing was sent to the untrusted resolver")
    }

    func testTheHTTPClientIsShutDownWithTheSource() async throws {
        let resolver = try await ResolverStandIn.start(group: group) { _ in .target("127.0.0.1:2222") }
        defer { resolver.close() }
        let before = ResolverSource.liveClients.load(ordering: .relaxed)
        let config = try ResolverConfig(url: resolver.url)
        // Sources dropped without shutdown() (an old configuration generation going away) close their client.
        for _ in 0..<5 {
            let source = ResolverSource(config: config, group: group)
            _ = try await source.target(for: try request())
        }
        let released = await TestKit.pollAsync { ResolverSource.liveClients.load(ordering: .relaxed) == before }
        XCTAssertTrue(released, "live clients: \(ResolverSource.liveClients.load(ordering: .relaxed)), before: \(before)")

        let source = ResolverSource(config: config, group: group)
        await source.shutdown()
        await source.shutdown()
        XCTAssertEqual(ResolverSource.liveClients.load(ordering: .relaxed), before)
        let refused = await refusal(source, try request())
        XCTAssertEqual(refused, TargetRefusal(status: 502, message: "the resolver client is shut down", reason: "resolver_failed"))
    }

    func testConfigKeys() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("resolver-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificates = try TestCertificates.make(name: "resolver-config")
        defer { try? FileManager.default.removeItem(atPath: certificates.directory) }
        try FileManager.default.copyItem(atPath: certificates.caFile, toPath: "\(directory)/ca.pem")
        let file = "\(directory)/server.toml"
        func parse(_ keys: String) throws(ConfigError) -> ResolverConfig {
            let toml = try TOMLReader.parse("[[routes]]\npath = \"/c\"\n\(keys)\n", file: file)
            return try ResolverConfig.parse(
                DynamicRouteEntry(reader: try toml.tables("routes")[0], path: "/c", captures: [], selector: "resolver"))
        }
        let full =
            (try parse(
                """
                resolver = "https://resolver.internal:9443/purr/resolve"
                resolver_token = "s3cret"
                resolver_timeout = 0.5
                resolver_headers = ["X-Session", "Cookie"]
                resolver_ca_file = "ca.pem"
                """))
        XCTAssertEqual(full.url, "https://resolver.internal:9443/purr/resolve")
        XCTAssertEqual(full.token, "s3cret")
        XCTAssertEqual(full.timeout, 0.5)
        XCTAssertEqual(full.headers, ["X-Session", "Cookie"])
        XCTAssertEqual(full.caFile, "\(directory)/ca.pem")
        XCTAssertFalse("\(full)".contains("s3cret"))
        XCTAssertEqual(try parse("resolver = \"http://127.0.0.1:9000/r\"").timeout, ResolverConfig.defaultTimeout)

        let bad: [(String, String)] = [
            ("resolver = \"ftp://x/r\"", "\(file): routes[0].resolver: 'ftp://x/r': expected an http:// or https:// URL"),
            ("resolver = \"http:///r\"", "\(file): routes[0].resolver: 'http:///r': the URL has no host"),
            ("resolver = \"http://u:p@x/r\"", "put the resolver's credentials in resolver_token"),
            ("resolver = \"http://x:70000/r\"", "\(file): routes[0].resolver: 'http://x:70000/r': the port must be a number 1-65535"),
            ("resolver = \"http://x/r\"\nresolver_timeout = 0", "\(file): routes[0].resolver_timeout: 0.0 is out of range 0.1...60.0"),
            ("resolver = \"http://x/r\"\nresolver_headers = [\"Bad Name\"]", "resolver_headers: 'Bad Name' is not a header name"),
            ("resolver = \"http://x/r\"\nresolver_ca_file = \"ca.pem\"", "resolver_ca_file is only for an https:// resolver"),
            ("resolver = \"https://x/r\"\nresolver_ca_file = \"missing.pem\"", "\(directory)/missing.pem: not a PEM certificate file"),
            ("resolver = \"https://x/r\"\nresolver_ca_file = \"server.toml\"", "\(directory)/server.toml"),
            ("resolver = \"http://x/r\"\nresolver_token = \"\"", "resolver_token is empty"),
        ]
        try "x = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        for (keys, expected) in bad {
            do {
                _ = try parse(keys)
                XCTFail("\(keys): accepted")
            } catch {
                XCTAssertTrue(error.message.contains(expected), "\(keys): \(error.message) should contain \(expected)")
                XCTAssertFalse(error.message.contains("\n"))
            }
        }
    }
}
