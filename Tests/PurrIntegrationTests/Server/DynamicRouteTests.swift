import Foundation
import NIOCore
import NIOHTTP1
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

/// Routes whose target is chosen per request (issue #16), in process: the embedding API's closure,
/// templates, the allow list, refusals and their labels, and a source that never answers.
final class DynamicRouteTests: XCTestCase {
    let group = InProcessServer.group
    let loopback = try! AllowList(["127.0.0.1:*"])

    func response(_ port: Int, path: String, token: String? = nil) throws -> (status: Int, body: String) {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        let (head, rest) = try socket.upgrade(path: path, port: port, token: token)
        var body = rest
        while let chunk = try? socket.read(), !chunk.isEmpty { body += chunk }
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? -1
        return (status, String(decoding: body, as: UTF8.self))
    }

    func assertEcho(_ port: Int, path: String, token: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        let (head, _) = try socket.upgrade(path: path, port: port, token: token)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), head, file: file, line: line)
        try socket.write("meow")
        XCTAssertEqual(try socket.read(exactly: 4), Array("meow".utf8), file: file, line: line)
    }

    func failures(_ server: PurrServer, route: String? = nil) -> [String: Int] {
        let snapshot = server.registry.snapshot()
        guard let route else { return snapshot.totals.failures }
        return snapshot.routes.first { $0.path == route }?.failures ?? [:]
    }

    func testTheApplicationsClosureChoosesRefusesAndIsHeldToTheAllowList() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let seen = Mutex<[TargetRequest]>([])
        let route = try Route(path: "/app", allow: loopback) { request in
            seen.withLock { $0.append(request) }
            switch request.token {
            case "good": return HostPort(host: "127.0.0.1", port: target.port)
            case "outside": return HostPort(host: "10.1.2.3", port: target.port)
            case "expired": throw TargetRefusal(status: 401, message: "token expired", reason: "jwt_expired")
            case "odd": throw TargetRefusal(status: 200, message: "line one\nline two", reason: "something_new")
            default: throw TargetRefusal.refused("no console for you")
            }
        }
        let server = try await InProcessServer.start(routes: [route])
        try assertEcho(server.port, path: "/app/x?y=1", token: "good")
        let request = try XCTUnwrap(seen.withLock { $0.first })
        XCTAssertEqual(request.path, "/app/x")
        XCTAssertEqual(request.routePath, "/app")
        XCTAssertEqual(request.token, "good")
        XCTAssertEqual(request.host, "127.0.0.1:\(server.port)")
        XCTAssertEqual(request.peer?.ipAddress, "127.0.0.1")
        XCTAssertEqual(request.headers["Purr-Request"].first, "MEOW")

        let cases: [(String, Int, String)] = [
            ("outside", 403, "target 10.1.2.3:\(target.port) is not allowed for route /app"),
            ("expired", 401, "token expired"),
            ("odd", 502, "line one line two"),
            ("nobody", 403, "no console for you"),
        ]
        for (token, status, body) in cases {
            let answer = try response(server.port, path: "/app", token: token)
            XCTAssertEqual(answer.status, status, token)
            XCTAssertEqual(answer.body, body + "\n", token)
        }
        XCTAssertTrue(
            TestKit.poll {
                self.failures(server, route: "/app") == ["forbidden_target": 1, "jwt_expired": 1, "refused": 2]
            }, "\(failures(server, route: "/app"))")
        let snapshot = server.registry.snapshot()
        XCTAssertEqual(snapshot.routes.first?.target, "application")
        XCTAssertEqual(snapshot.routes.first?.total, 5)
    }

    func testTheStatsShowTheChosenTargetPerConnection() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let route = try Route(path: "/app", allow: loopback) { _ in HostPort(host: "127.0.0.1", port: target.port) }
        let server = try await InProcessServer.start(routes: [route])
        let socket = try BlockingSocket(port: server.port)
        let (head, _) = try socket.upgrade(path: "/app", port: server.port)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"))
        XCTAssertTrue(TestKit.poll { server.registry.snapshot().connections.first?.state == .relaying })
        let connection = try XCTUnwrap(server.registry.snapshot().connections.first)
        XCTAssertEqual(connection.route, "/app")
        XCTAssertEqual(connection.target, "127.0.0.1:\(target.port)")
        socket.close()
    }

    /// A source that never answers: the client that leaves is counted as gone and the source's task is
    /// cancelled; a client that waits gets 504 at the deadline (the header timeout) and the task is
    /// cancelled too. Nothing is left behind either way.
    func testASourceThatNeverAnswersIsCancelledWhenTheClientLeavesOrTheDeadlinePasses() async throws {
        let started = Mutex(0)
        let cancelled = Mutex(0)
        let route = try Route(path: "/slow", allow: loopback) { _ in
            started.withLock { $0 += 1 }
            // Waits for nothing but its own cancellation.
            let (never, end) = AsyncStream<Void>.makeStream()
            await withTaskCancellationHandler {
                for await _ in never {}
            } onCancel: {
                cancelled.withLock { $0 += 1 }
                end.finish()
            }
            throw TargetRefusal.refused("cancelled")
        }
        let server = try await InProcessServer.start(routes: [route], headerTimeout: 1)

        let leaving = try BlockingSocket(port: server.port)
        try leaving.write(UpgradeRequest(path: "/slow", host: "x").encoded())
        XCTAssertTrue(TestKit.poll { started.withLock { $0 } == 1 })
        leaving.reset()
        XCTAssertTrue(TestKit.poll { cancelled.withLock { $0 } == 1 }, "the source's task is cancelled when the client leaves")
        XCTAssertTrue(TestKit.poll { self.failures(server)["client_gone"] == 1 }, "\(failures(server))")
        XCTAssertEqual(failures(server)["refused"], nil, "a late answer for a client that left counts nothing")

        let answer = try response(server.port, path: "/slow")
        XCTAssertEqual(answer.status, 504)
        XCTAssertEqual(answer.body, "no target chosen for route /slow within 1 s\n")
        XCTAssertTrue(TestKit.poll { cancelled.withLock { $0 } == 2 })
        XCTAssertTrue(TestKit.poll { self.failures(server)["resolver_timeout"] == 1 })
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
    }

    /// A browser's WebSocket presents its token as `?token=` (it cannot set headers): a token-file
    /// route picks its target from it, and the frames flow.
    func testAWebSocketClientsQueryTokenPicksTheTargetFromATokenFile() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("purr-tokens-\(UUID().uuidString).txt")
        try "vnc-4242: 127.0.0.1:\(target.port)\n".write(to: file, atomically: true, encoding: .utf8)
        let source = try TokenFileSource(path: file.path, route: "/ws")
        let route = try Route(path: "/ws", target: .source(source, summary: "token file"), allow: loopback)
        let server = try await InProcessServer.start(routes: [route])
        let socket = try RawWebSocket(port: server.port, path: "/ws?token=vnc-4242")
        XCTAssertTrue(socket.head.hasPrefix("HTTP/1.1 101"), socket.head)
        try socket.send(opcode: 0x2, Array("frames".utf8))
        XCTAssertEqual(try socket.readFrame().payload, Array("frames".utf8))
        socket.socket.close()
        let refused = try RawWebSocket(port: server.port, path: "/ws?token=vnc-4243")
        XCTAssertTrue(refused.head.hasPrefix("HTTP/1.1 403"), refused.head)
        refused.socket.close()
    }

    /// A template route may also require a route token: both hold.
    func testATemplateRouteWithARouteToken() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let template = try TargetTemplate("127.0.0.1:{port}", captures: ["port"])
        let route = try Route(path: "/p/{port}", target: .template(template), allow: loopback, token: "route-s3cret")
        let server = try await InProcessServer.start(routes: [route])
        XCTAssertEqual(try response(server.port, path: "/p/\(target.port)").status, 401)
        try assertEcho(server.port, path: "/p/\(target.port)", token: "route-s3cret")
    }

    /// Many clients at once on a source that takes a moment, half of them leaving while it thinks:
    /// every connection ends counted (relayed, or gone), nothing stays open.
    func testManyConcurrentLookupsWithClientsLeavingLeaveNothingBehind() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let asked = Mutex(0)
        let thinking = AsyncGate()
        let route = try Route(path: "/app", allow: loopback) { _ in
            asked.withLock { $0 += 1 }
            await thinking.wait()
            return HostPort(host: "127.0.0.1", port: target.port)
        }
        let server = try await InProcessServer.start(routes: [route])
        let sockets = try (0..<40).map { _ in try BlockingSocket(port: server.port) }
        for socket in sockets { try socket.write(UpgradeRequest(path: "/app", host: "x").encoded()) }
        XCTAssertTrue(TestKit.poll { asked.withLock { $0 } == 40 })
        for (index, socket) in sockets.enumerated() where index % 2 == 1 { socket.reset() }
        thinking.open()
        for (index, socket) in sockets.enumerated() where index % 2 == 0 {
            XCTAssertTrue(try socket.readHead().head.hasPrefix("HTTP/1.1 101"))
            try socket.write("x")
            XCTAssertEqual(try socket.read(exactly: 1), Array("x".utf8))
            socket.close()
        }
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 }, "\(server.registry.activeCount) still open")
        let totals = server.registry.snapshot().totals
        XCTAssertEqual(totals.total, 40)
        XCTAssertEqual(totals.failures["client_gone", default: 0] + totals.failures["relay_error", default: 0], 20, "\(totals.failures)")
    }

    /// A source that ignores cancellation: the client still gets its 504 at the deadline and the
    /// connection is gone at once; the answer that comes later connects nothing and counts nothing.
    func testALateAnswerFromASourceThatIgnoresCancellationChangesNothing() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let release = AsyncGate()
        let answered = Mutex(false)
        let route = try Route(path: "/stubborn", allow: loopback) { _ in
            await release.wait()  // ignores cancellation
            answered.withLock { $0 = true }
            return HostPort(host: "127.0.0.1", port: target.port)
        }
        let server = try await InProcessServer.start(routes: [route], headerTimeout: 0.5)
        let answer = try response(server.port, path: "/stubborn")
        XCTAssertEqual(answer.status, 504)
        XCTAssertTrue(TestKit.poll { server.registry.activeCount == 0 })
        release.open()
        XCTAssertTrue(TestKit.poll { answered.withLock { $0 } })
        try assertEcho(server.port, path: "/stubborn")  // the next request gets the answer at once
        let snapshot = server.registry.snapshot()
        XCTAssertEqual(snapshot.totals.failures, ["resolver_timeout": 1])
        XCTAssertEqual(snapshot.totals.total, 2)
    }
}
