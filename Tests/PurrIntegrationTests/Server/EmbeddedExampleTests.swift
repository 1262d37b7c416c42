import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// The embedding example (`Examples/EmbeddedPurr`, `purr-embed-example`), built and run: the
/// application's own HTTP endpoint hands out a ticket, and a tunnel through the built `purr` client
/// that presents it reaches the machine; without one, or with one used already, it is refused.
final class EmbeddedExampleTests: XCTestCase {
    let group = InProcessServer.group

    func get(_ port: Int, _ path: String) throws -> (status: Int, body: String) {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        let (status, _, body) = try socket.readResponse()
        return (status, body.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func port(in output: String, after prefix: String) -> Int? {
        output.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
    }

    func testTheExampleServesItsOwnHTTPAndTunnelsOnTheSameGroup() async throws {
        let machine = try await TestTarget.start(.echo(banner: nil), group: group)
        let example = try RunningProcess(
            "purr-embed-example", ["--http", "127.0.0.1:0", "--purr", "127.0.0.1:0", "web=127.0.0.1:\(machine.port)", "db=10.0.0.6:5432"])
        defer { example.stop() }
        XCTAssertTrue(example.waitForOutput("purr on"), example.stderr)
        let httpPort = try XCTUnwrap(port(in: example.stdout, after: "http on"))
        let purrPort = try XCTUnwrap(port(in: example.stdout, after: "purr on"))

        XCTAssertEqual(try get(httpPort, "/healthz").body, "ok")
        let ticket = try get(httpPort, "/login?machine=web")
        XCTAssertEqual(ticket.status, 200)

        let client = try RunningProcess(
            "purr", ["connect", "http://127.0.0.1:\(purrPort)/console/web", "--token", ticket.body, "--listen", "127.0.0.1:0"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let local = try XCTUnwrap(port(in: client.stdout, after: "listening on"))
        let app = try BlockingSocket(port: local)
        try app.write("hello machine")
        XCTAssertEqual(try app.read(exactly: 13), Array("hello machine".utf8))

        func refusal(_ path: String, token: String?) throws -> String {
            let socket = try BlockingSocket(port: purrPort)
            defer { socket.close() }
            let (head, rest) = try socket.upgrade(path: path, port: purrPort, token: token)
            var body = rest
            while let chunk = try? socket.read(), !chunk.isEmpty { body += chunk }
            return "\(head.split(separator: " ")[1]) \(String(decoding: body, as: UTF8.self))"
        }
        XCTAssertEqual(
            try refusal("/console/web", token: ticket.body), "401 no valid ticket for web (GET /login?machine=web first)\n", "used once")
        XCTAssertEqual(try refusal("/console/web", token: nil), "401 no valid ticket for web (GET /login?machine=web first)\n")
        XCTAssertEqual(try refusal("/console/mail", token: nil), "404 no such machine\n")
        let dbTicket = try get(httpPort, "/login?machine=db").body
        XCTAssertEqual(
            try refusal("/console/db", token: dbTicket), "403 target 10.0.0.6:5432 is not allowed for route /console/{machine}\n")
        XCTAssertEqual(try refusal("/console/..", token: nil), "400 bad capture: {machine}: '..' is not allowed\n")
        // The relay keeps going through all of that.
        try app.write("still")
        XCTAssertEqual(try app.read(exactly: 5), Array("still".utf8))
        app.close()
        XCTAssertEqual(example.signal(SIGTERM), 0, example.stderr)
    }
}
