import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// The kernel's view of each hop (`tcp`) is in the very first `/stats` read after a connection starts
/// relaying: it used to come only with the second (the first read asked the kernel and showed nothing).
final class StatsTCPTests: XCTestCase {
    func testTheFirstStatsReadCarriesTCPForEachNewConnection() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        let server = try RunningProcess(
            "purr-server", ["--listen", "127.0.0.1:0", "--route", "/echo=127.0.0.1:\(target.port)", "--admin-port", "0"])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("admin on 127.0.0.1:"), server.stderr)
        let serverPort = try Self.port(after: "listening on", in: server.stdout)
        let adminPort = try Self.port(after: "admin on", in: server.stdout)

        // Each connection is new and its stats are read exactly once, at once.
        for round in 1...5 {
            let socket = try BlockingSocket(port: serverPort)
            defer { socket.close() }
            let request = UpgradeRequest(path: "/echo", host: "127.0.0.1:\(serverPort)").encoded()
            let answer = try socket.upgrade(path: "/echo", port: serverPort)
            XCTAssertTrue(answer.head.hasPrefix("HTTP/1.1 101"), answer.head)
            let peer = "127.0.0.1:\(try Self.localPort(of: socket))"

            let stats = try Self.get(adminPort, "/stats")
            XCTAssertEqual(stats.status, 200)
            let snapshot = try AdminJSON.decoder().decode(StatsSnapshot.self, from: Data(stats.body.utf8))
            let connection = try XCTUnwrap(snapshot.connections.first { $0.peer == peer }, "round \(round): \(stats.body)")
            XCTAssertEqual(connection.state, .relaying)
            let client = try XCTUnwrap(connection.tcp?.client, "round \(round): the first read has the client hop: \(stats.body)")
            XCTAssertNotNil(connection.tcp?.target, "round \(round): and the target hop: \(stats.body)")
            XCTAssertGreaterThanOrEqual(
                client.bytesReceived, request.utf8.count, "round \(round): a real reading (the request head was received)")

            let payload = TestKit.randomPayload(count: 64 * 1024)
            try socket.write(payload)
            XCTAssertEqual(try socket.read(exactly: payload.count), payload, "round \(round): the relay works beside it")
        }
        XCTAssertEqual(server.signal(SIGTERM), 0)
        await target.stop()
    }

    static func port(after prefix: String, in output: String) throws -> Int {
        let line = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix(prefix) }, output)
        return try XCTUnwrap(Int(line.split(separator: ":").last ?? ""), String(line))
    }

    static func localPort(of socket: BlockingSocket) throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket.fd, $0, &length) }
        }
        guard result == 0 else { throw BlockingSocket.Failure(description: "getsockname failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func get(_ port: Int, _ path: String) throws -> (status: Int, head: String, body: String) {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return try socket.readResponse()
    }
}
