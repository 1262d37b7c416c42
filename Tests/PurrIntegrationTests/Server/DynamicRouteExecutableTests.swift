import Foundation
import PurrCore
import PurrTestSupport
import XCTest

/// Templates and token files in the built `purr-server`, configured from server.toml: success through
/// the built `purr` client, refusals, the allow list, hostile captures, a token file edited while
/// tunnels run, and config errors.
final class DynamicRouteExecutableTests: XCTestCase {
    let group = InProcessServer.group

    func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("purr-routing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func answer(_ port: Int, _ raw: String) throws -> (status: Int, body: String) {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write(raw)
        let (status, _, body) = try socket.readResponse()
        return (status, body)
    }

    /// The status of the answer's head alone (a 101 is not read to its end).
    func status(_ port: Int, _ raw: String) throws -> Int {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write(raw)
        return Int(try socket.readHead().head.split(separator: " ")[1]) ?? -1
    }

    func upgradeRaw(_ path: String, headers: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nPurr-Request: MEOW\r\nPurr-Version: 0.1.2\r\nUpgrade: purr\r\n\(headers)\r\n"
    }

    /// An upgraded tunnel that echoes; the caller closes it.
    func tunnel(_ port: Int, _ path: String, headers: String = "", file: StaticString = #filePath, line: UInt = #line) throws
        -> BlockingSocket
    {
        let socket = try BlockingSocket(port: port)
        try socket.write(upgradeRaw(path, headers: headers))
        let (head, _) = try socket.readHead()
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), "\(path): \(head)", file: file, line: line)
        try assertEchoes(socket, "ping", file: file, line: line)
        return socket
    }

    func assertEchoes(_ socket: BlockingSocket, _ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try socket.write(text)
        XCTAssertEqual(try socket.read(exactly: text.utf8.count), Array(text.utf8), file: file, line: line)
    }

    func testTemplateRouteThroughThePurrClientAndItsRefusals() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let dir = try directory()
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [admin]
                port = \(RunningProcess.freePort())

                [[routes]]
                path = "/vnc/{host}/{port}"
                target = "{host}:{port}"
                allow = ["127.0.0.1:\(target.port)", "*.vms.internal:5900", "[::1]:\(target.port)"]

                [[routes]]
                path = "/vnc"
                target = "127.0.0.1:\(target.port)"
                """, in: dir)
        defer { server.stop() }

        // Success through the built client.
        let client = try RunningProcess(
            "purr", ["connect", "http://127.0.0.1:\(port)/vnc/127.0.0.1/\(target.port)", "--listen", "127.0.0.1:0"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let local = try XCTUnwrap(Int(client.stdout.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        let app = try BlockingSocket(port: local)
        try assertEchoes(app, "through the template")
        app.close()

        let cases: [(String, Int, String)] = [
            ("/vnc/10.0.0.1/5900", 403, "target 10.0.0.1:5900 is not allowed for route /vnc/{host}/{port}"),
            ("/vnc/127.0.0.1/1", 403, "target 127.0.0.1:1 is not allowed for route /vnc/{host}/{port}"),
            ("/vnc/localhost/\(target.port)", 403, "target localhost:\(target.port) is not allowed for route /vnc/{host}/{port}"),
            ("/vnc/../\(target.port)", 400, "bad capture: {host}: '..' is not allowed"),
            ("/vnc/127.0.0.1%2F..%2F/\(target.port)", 400, "bad capture: {host}: percent-encoded bytes are not allowed"),
            ("/vnc/127.0.0.1%00/\(target.port)", 400, "bad capture: {host}: percent-encoded bytes are not allowed"),
            ("/vnc//\(target.port)", 400, "bad capture: {host}: empty"),
            ("/vnc/\(String(repeating: "a", count: 300))/\(target.port)", 400, "bad capture: {host}: longer than 255 bytes"),
            ("/vnc/2130706433/\(target.port)", 400, "bad capture: '2130706433' is not a host name or IP address"),
            ("/vnc/127.0.0.1/99999", 400, "bad capture: '99999' is not a port number 1-65535"),
            ("/vnc/127.0.0.1/ssh", 400, "bad capture: 'ssh' is not a port number 1-65535"),
        ]
        for (path, status, body) in cases {
            let result = try answer(port, upgradeRaw(path))
            XCTAssertEqual(result.status, status, path)
            XCTAssertEqual(result.body, body + "\n", path)
        }
        // A raw NUL in the request line never gets as far as the template.
        XCTAssertEqual(try answer(port, upgradeRaw("/vnc/a\u{0}b/1")).status, 400)
        // IPv6 in brackets gets through the allow list (the echo target listens on IPv4 only: 502).
        XCTAssertEqual(try answer(port, upgradeRaw("/vnc/[::1]/\(target.port)")).status, 502)
        // The plain prefix route takes the paths the template does not match.
        try tunnel(port, "/vnc/a/b/c").close()

        server.stop()
        let log = server.stderr
        let open = try XCTUnwrap(log.split(separator: "\n").first { $0.contains(" open") && $0.contains("{host}") })
        XCTAssertTrue(open.contains("route=/vnc/{host}/{port}") && open.contains("target=127.0.0.1:\(target.port)"), String(open))
        XCTAssertTrue(log.contains("status=403"), log)
    }

    func testTemplateStatsCountUnderTheTemplateRoute() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let dir = try directory()
        let adminPort = RunningProcess.freePort()
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [admin]
                port = \(adminPort)

                [[routes]]
                path = "/t/{port}"
                target = "127.0.0.1:{port}"
                allow = ["127.0.0.1:\(target.port)"]
                """, in: dir)
        defer { server.stop() }
        let live = try tunnel(port, "/t/\(target.port)")
        _ = try answer(port, upgradeRaw("/t/1"))
        _ = try answer(port, upgradeRaw("/t/%2e%2e"))
        var stats = ""
        XCTAssertTrue(
            TestKit.poll {
                stats = (try? BlockingSocket.get("/stats", port: adminPort)) ?? ""
                return stats.contains("\"forbidden_target\":1") && stats.contains("\"bad_capture\":1")
            }, stats)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])
        let routes = try XCTUnwrap(json["routes"] as? [[String: Any]])
        XCTAssertEqual(routes.first?["path"] as? String, "/t/{port}")
        XCTAssertEqual(routes.first?["target"] as? String, "127.0.0.1:{port}")
        XCTAssertEqual(routes.first?["total"] as? Int, 3)
        let connections = try XCTUnwrap(json["connections"] as? [[String: Any]])
        XCTAssertEqual(connections.first?["route"] as? String, "/t/{port}")
        XCTAssertEqual(connections.first?["target"] as? String, "127.0.0.1:\(target.port)")
        live.close()
    }

    func testTokenFileEditedWhileATunnelRuns() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let other = try await TestTarget.start(.echo(banner: nil), group: group)
        let dir = try directory()
        let tokens = dir.appendingPathComponent("tokens.txt")
        try """
        # websockify format
        first-s3cret: 127.0.0.1:\(target.port)
        this line is bad
        outside-s3cret: 10.9.9.9:22
        """.write(to: tokens, atomically: true, encoding: .utf8)
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/console"
                token_file = "tokens.txt"
                allow = ["127.0.0.1:*"]
                """, in: dir)
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("\(tokens.path):3: expected TOKEN: HOST:PORT"), server.stderr)

        let running = try tunnel(port, "/console", headers: "Authorization: Bearer first-s3cret\r\n")
        XCTAssertEqual(
            try answer(port, upgradeRaw("/console")).body,
            "route /console needs a token (Authorization: Bearer TOKEN, Purr-Token, or ?token=)\n")
        XCTAssertEqual(try answer(port, upgradeRaw("/console?token=guess-s3cret")).status, 403)
        XCTAssertEqual(
            try answer(port, upgradeRaw("/console", headers: "Purr-Token: outside-s3cret\r\n")).body,
            "target 10.9.9.9:22 is not allowed for route /console\n")

        // Replace the file (as an editor or a deploy does): the old token goes, a new one comes.
        try """
        second-s3cret: 127.0.0.1:\(other.port)
        """.write(to: tokens, atomically: true, encoding: .utf8)
        XCTAssertTrue(
            TestKit.poll { (try? self.answer(port, self.upgradeRaw("/console?token=first-s3cret")))?.status == 403 },
            "removed token refused")
        try tunnel(port, "/console?token=second-s3cret").close()
        // Written in place, same inode: seen too.
        let handle = try FileHandle(forWritingTo: tokens)
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data("third-s3cret: 127.0.0.1:\(target.port)\nsecond-s3cret: 127.0.0.1:\(other.port)\n".utf8))
        try handle.close()
        XCTAssertTrue(
            TestKit.poll { (try? self.status(port, self.upgradeRaw("/console", headers: "Purr-Token: third-s3cret\r\n"))) == 101 })
        try tunnel(port, "/console", headers: "Purr-Token: third-s3cret\r\n").close()
        // The tunnel opened with the removed token is untouched.
        try assertEchoes(running, "still relaying")
        running.close()

        server.stop()
        let log = server.stderr
        XCTAssertEqual(log.components(separatedBy: "\(tokens.path):3:").count - 1, 1, "a bad line is reported once: \(log)")
        XCTAssertTrue(log.contains("target=127.0.0.1:\(target.port)"), log)
        for token in ["first-s3cret", "second-s3cret", "third-s3cret", "outside-s3cret", "guess-s3cret"] {
            XCTAssertFalse(log.contains(token), "never log a token: \(token)")
        }
    }

    func testDynamicRouteConfigErrorsNameFileAndKey() throws {
        let dir = try directory()
        let file = dir.appendingPathComponent("server.toml").path
        let cases: [(String, String)] = [
            ("path = \"/v/{host}\"\ntarget = \"{host}:22\"", "routes[0].allow: missing (required for a target chosen per request)"),
            ("path = \"/v\"\ntoken_file = \"t.txt\"", "routes[0].allow: missing"),
            ("path = \"/v\"\ntarget = \"127.0.0.1:22\"\nallow = [\"127.0.0.1:*\"]", "routes[0].allow: only a target chosen per request"),
            ("path = \"/v\"\ntarget = \"127.0.0.1:22\"\ntoken_file = \"t.txt\"", "routes[0]: give only one of target, token_file"),
            (
                "path = \"/v\"\ntoken_file = \"t.txt\"\ntoken = \"x\"\nallow = [\"127.0.0.1:*\"]",
                "routes[0].token: a token_file route takes no route token"
            ),
            (
                "path = \"/v\"\ntoken_file = \"missing.txt\"\nallow = [\"127.0.0.1:*\"]",
                "routes[0].token_file: '\(dir.path)/missing.txt': cannot read"
            ),
            (
                "path = \"/v/{host}\"\ntarget = \"{host}:{port}\"\nallow = [\"127.0.0.1:*\"]",
                "routes[0].target: '{host}:{port}': {port} is not a capture"
            ),
            (
                "path = \"/v/{host}\"\ntarget = \"127.0.0.1:22\"\nallow = [\"127.0.0.1:*\"]",
                "routes[0].target: a path with captures needs a target that uses them"
            ),
            ("path = \"/v/{host}\"\ntarget = \"{host}:22\"\nallow = [\"*:22\"]", "routes[0].allow: allow entry '*:22'"),
            ("path = \"/v/{host}\"\ntarget = \"{host}:22\"\nallow = \"127.0.0.1:*\"", "routes[0].allow: expected an array of strings"),
        ]
        for (entry, expected) in cases {
            try "[[routes]]\n\(entry)\n".write(toFile: file, atomically: true, encoding: .utf8)
            let result = try RunningProcess.run("purr-server", ["--config", file])
            XCTAssertEqual(result.status, 2, "\(entry): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("\(file): \(expected)"), "\(entry): \(result.stderr)")
        }
    }
}
