import Foundation
import NIOCore
import PurrCore
import PurrTestSupport
import XCTest

@testable import PurrServer

/// The admin endpoint and the connection slots against an attacker: DNS rebinding, idle sockets, a
/// reload that drops the token, one peer holding every slot. The built `purr-server` throughout.
final class AdminHardeningTests: XCTestCase {
    func request(_ port: Int, _ path: String, host: String?, token: String? = nil) throws -> (status: Int, body: String) {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        var head = "GET \(path) HTTP/1.1\r\nConnection: close\r\n"
        if let host { head += "Host: \(host)\r\n" }
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        try socket.write(head + "\r\n")
        let answer = try socket.readResponse()
        return (answer.status, answer.body)
    }

    func startServer(_ config: String, arguments: [String] = []) throws -> (RunningProcess, port: Int, admin: Int) {
        let admin = RunningProcess.freePort()
        let (process, port) = try RunningProcess.purrServer(config: config, arguments: ["--admin-port", "\(admin)"] + arguments)
        XCTAssertTrue(process.waitForOutput("admin on"), process.stderr)
        return (process, port, admin)
    }

    /// Without a token only a loopback Host is answered (a rebinding page sends its own name); with
    /// one, the token is what counts.
    func testWithoutATokenOnlyLoopbackHostsAreAnswered() throws {
        let (server, _, admin) = try startServer("log_level = \"warning\"")
        defer { server.stop() }
        for host in ["127.0.0.1:\(admin)", "localhost:\(admin)", "[::1]:\(admin)", "127.0.0.1", "LOCALHOST"] {
            XCTAssertEqual(try request(admin, "/stats", host: host).status, 200, host)
        }
        for host in ["evil.example:\(admin)", "127.0.0.1.evil.example", "127.evil.example", "10.0.0.1", "[::2]:1", ""] {
            let answer = try request(admin, "/stats", host: host)
            XCTAssertEqual(answer.status, 403, host)
            XCTAssertTrue(answer.body.contains("loopback Host"), answer.body)
        }
        XCTAssertEqual(try request(admin, "/healthz", host: nil).status, 403, "no Host at all")
        XCTAssertEqual(try request(admin, "/stats", host: "127.0.0.1\r\nHost: evil.example").status, 400, "two Host headers")

        let (locked, _, lockedAdmin) = try startServer("log_level = \"warning\"\n[admin]\ntoken = \"adm-token\"")
        defer { locked.stop() }
        XCTAssertEqual(try request(lockedAdmin, "/stats", host: "evil.example", token: "adm-token").status, 200)
        XCTAssertEqual(try request(lockedAdmin, "/stats", host: "evil.example").status, 401)
    }

    /// Idle admin connections are closed after `idle_timeout`; past `max_connections` they are closed
    /// at once; a stream viewer, quiet by nature, stays.
    func testIdleAdminConnectionsAreClosedAndCapped() throws {
        let (server, _, admin) = try startServer(
            "log_level = \"warning\"\n[admin]\nidle_timeout = 1\nmax_connections = 4")
        defer { server.stop() }
        let viewer = try BlockingSocket(port: admin, timeout: 10)
        try viewer.write("GET /stats/stream?interval_ms=200 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertTrue(try viewer.readHead().head.hasPrefix("HTTP/1.1 200"))
        let silent = try (0..<3).map { _ in try BlockingSocket(port: admin, timeout: 10) }
        // The fifth is over the cap: closed without a word.
        let extra = try BlockingSocket(port: admin, timeout: 10)
        XCTAssertEqual(try extra.read(), [], "a connection over the cap is closed")
        // The silent three are closed after the idle timeout.
        for socket in silent { XCTAssertEqual(try socket.read(), [], "an idle admin connection is closed") }
        // The viewer still gets events well after the idle timeout.
        let start = Date()
        var events = 0
        while Date().timeIntervalSince(start) < 2.5 {
            let chunk = try viewer.read()
            XCTAssertFalse(chunk.isEmpty, "the stream viewer was closed")
            if chunk.isEmpty { break }
            events += String(decoding: chunk, as: UTF8.self).components(separatedBy: "event: stats").count - 1
        }
        XCTAssertGreaterThan(events, 3)
        // Slots freed: a new request is answered.
        XCTAssertEqual(try request(admin, "/healthz", host: "127.0.0.1").status, 200)
    }

    /// One peer's silent sockets fill only its own share: 20 of them against `--max-connections 20`
    /// and a per-peer limit of 5 leave room for another address, whose tunnel works.
    func testOnePeerCannotTakeEverySlot() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        let (server, port, admin) = try startServer(
            "log_level = \"notice\"\n[[routes]]\npath = \"/t\"\ntarget = \"127.0.0.1:\(target.port)\"",
            arguments: ["--max-connections", "20", "--max-connections-per-peer", "5"])
        defer { server.stop() }
        var held: [BlockingSocket] = []
        var refused = 0
        for _ in 0..<20 {
            let socket = try BlockingSocket(port: port, timeout: 10)
            socket.setReadTimeout(0.3)
            if let answer = try? socket.readResponse(), answer.status == 503 {
                XCTAssertTrue(answer.body.contains("too many connections from your address"), answer.body)
                refused += 1
                socket.close()
            } else {
                held.append(socket)
            }
        }
        XCTAssertEqual(held.count, 5)
        XCTAssertEqual(refused, 15)
        XCTAssertTrue(server.waitForOutput("too many connections from your address"), server.stderr)
        // Another address gets in and relays.
        let other = try BlockingSocket(port: port, timeout: 10, source: "127.0.0.2")
        _ = try other.upgrade(path: "/t", port: port)
        try other.write("still here")
        XCTAssertEqual(try other.read(exactly: 10), Array("still here".utf8))
        // A relaying connection does not count: the first peer may open more once its silent ones go.
        for socket in held { socket.close() }
        XCTAssertTrue(
            TestKit.poll {
                (try? request(admin, "/stats", host: "127.0.0.1").body.contains("\"peer_limit\":15")) ?? false
            })
        let again = try BlockingSocket(port: port, timeout: 10)
        _ = try again.upgrade(path: "/t", port: port)
    }

    /// An admin token no client could send is refused where it is written.
    func testAnAdminTokenNoClientCanSendIsRefused() throws {
        let result = try RunningProcess.run(
            "purr-server", ["--listen", "127.0.0.1:0", "--admin-port", "0", "--admin-token", "two words"])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("admin token is not a valid token (token68)"), result.stderr)
        XCTAssertFalse(result.stderr.contains("two words"), "the token in the error line")
    }

    /// Loopback is decided from the parsed address, not its spelling.
    func testLoopbackIsJudgedFromTheAddress() throws {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost"] {
            XCTAssertTrue(HostPort(host: host, port: 1).isLoopback, host)
        }
        for host in ["127.evil.example", "10.0.0.1", "::", "0.0.0.0", "::ffff:10.0.0.1", "::2", "example.com"] {
            XCTAssertFalse(HostPort(host: host, port: 1).isLoopback, host)
        }
        XCTAssertNoThrow(try AdminServer.checkToken(nil, bound: try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 9)))
        XCTAssertThrowsError(try AdminServer.checkToken(nil, bound: try SocketAddress(ipAddress: "192.0.2.1", port: 9)))
        XCTAssertNoThrow(try AdminServer.checkToken("t", bound: try SocketAddress(ipAddress: "192.0.2.1", port: 9)))
    }

    /// The attack from outside: an admin endpoint on a non-loopback address with a token; the file is
    /// rewritten without the token and with a loopback `[admin] host` (which only applies at restart),
    /// then SIGHUP. The reload is refused whole and `/stats` stays behind the token. A private network
    /// namespace gives the server a non-loopback address (192.0.2.1, a documentation address, on the
    /// namespace's own `lo`) without touching any real network.
    func testReloadCannotTakeTheTokenFromANonLoopbackListener() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root for a private network namespace (docs/development.md)") }
        let holder = try RunningProcess(
            absolute: "/usr/bin/unshare",
            [
                "--net", "/bin/sh", "-c",
                "ip link set lo up && ip addr add 192.0.2.1/32 dev lo && echo ready && exec cat",
            ])
        defer { holder.stop() }
        XCTAssertTrue(holder.waitForOutput("ready"), holder.stderr)
        let namespace = "/proc/\(holder.pid)/ns/net"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("admin-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("server.toml")
        try "[admin]\nport = 7010\nhost = \"192.0.2.1\"\ntoken = \"adm-secret-1\"\n".write(to: file, atomically: true, encoding: .utf8)
        let server = try RunningProcess(
            absolute: "/usr/bin/nsenter",
            ["--net=\(namespace)", RunningProcess.productsDirectory.appendingPathComponent("purr-server").path, "--config", file.path])
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("admin on"), server.stderr)
        func status(_ token: String?) throws -> String {
            var arguments = ["--net=\(namespace)", "/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
            if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
            return try RunningProcess.run(absolute: "/usr/bin/nsenter", arguments + ["http://192.0.2.1:7010/stats"]).stdout
        }
        XCTAssertEqual(try status(nil), "401")
        XCTAssertEqual(try status("adm-secret-1"), "200")
        try "[admin]\nport = 7010\nhost = \"127.0.0.1\"\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(kill(server.pid, SIGHUP), 0)
        XCTAssertTrue(server.waitForOutput("config reload failed"), server.stderr)
        XCTAssertTrue(server.stderr.contains("needs a token"), server.stderr)
        XCTAssertEqual(try status(nil), "401", "the reload took the token away")
        XCTAssertEqual(try status("adm-secret-1"), "200")
    }
}
