import Foundation
import Logging
import PurrCore
import XCTest

@testable import PurrServer

/// `[[reverse]]` in server.toml: what is read, what is refused at start with one line, and the slot's
/// admission rules (no sockets).
final class ReverseConfigTests: XCTestCase {
    func load(_ text: String) throws -> ServerConfig {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reverse-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ServerConfig.load(file: path)
    }

    func testAnEntryWithListenAndPublish() throws {
        let config = try load(
            """
            [[reverse]]
            name = "lab-ssh"
            path = "/rev/lab-ssh"
            token = "abc"
            listen = "127.0.0.1:2222"
            publish = "/lab-ssh"
            publish_token = "def"
            pool = 8
            wait_timeout = 3
            """)
        let entry = try XCTUnwrap(config.reverses.first)
        XCTAssertEqual(entry.name, "lab-ssh")
        XCTAssertEqual(entry.listen, HostPort(host: "127.0.0.1", port: 2222))
        XCTAssertEqual(entry.pool, 8)
        XCTAssertEqual(entry.waitTimeout, 3)
        XCTAssertFalse(entry.share)
        XCTAssertEqual(entry.maxClients, 1)
        // The publish route is an ordinary route with its own token.
        let route = try XCTUnwrap(config.routes.first { $0.path == "/lab-ssh" })
        XCTAssertEqual(route.token, "def")
    }

    func testRefusedAtStartWithOneLine() {
        let cases: [(String, String)] = [
            ("name = \"a\"\npath = \"/r\"\nlisten = \"0.0.0.0:2222\"", "not a loopback address; add public = true"),
            ("name = \"a\"\npath = \"/r\"", "give listen"),
            ("name = \"a b\"\npath = \"/r\"\nlisten = \"127.0.0.1:1\"", "is not a name"),
            ("name = \"a\"\npath = \"r\"\nlisten = \"127.0.0.1:1\"", "must start with '/'"),
            ("name = \"a\"\npath = \"/r\"\nlisten = \"127.0.0.1:1\"\nmax_clients = 2", "needs share = true"),
            ("name = \"a\"\npath = \"/r\"\nlisten = \"127.0.0.1:1\"\nbogus = 1", "bogus"),
            ("name = \"a\"\npath = \"/r\"\nlisten = \"127.0.0.1:1\"\ntoken = \"a b\"", "token"),
        ]
        for (body, expected) in cases {
            XCTAssertThrowsError(try load("[[reverse]]\n" + body), body) { error in
                let message = (error as? ConfigError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(expected), "\(body): \(message)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
        XCTAssertNoThrow(try load("[[reverse]]\nname = \"a\"\npath = \"/r\"\nlisten = \"0.0.0.0:2222\"\npublic = true"))
        XCTAssertThrowsError(
            try load("[[routes]]\npath = \"/r\"\ntarget = \"127.0.0.1:1\"\n[[reverse]]\nname = \"a\"\npath = \"/r\"\npublish = \"/p\""))
        XCTAssertThrowsError(
            try load(
                "[[reverse]]\nname = \"a\"\npath = \"/r\"\npublish = \"/p\"\n[[reverse]]\nname = \"a\"\npath = \"/s\"\npublish = \"/q\""))
    }

    func testOneClientPerNameUnlessShared() throws {
        let config = try load("[[reverse]]\nname = \"a\"\npath = \"/r\"\npublish = \"/p\"\npool = 2")
        let entry = try XCTUnwrap(config.reverses.first)
        entry.slot.configure(entry, logger: .init(label: "test"), published: HostPort(host: "127.0.0.1", port: 1)) {}
        guard case .held = entry.slot.admit(clientID: "one") else { return XCTFail("first client refused") }
        guard case .held = entry.slot.admit(clientID: "one") else { return XCTFail("second request refused") }
        guard case .refused(let pool) = entry.slot.admit(clientID: "one") else { return XCTFail("pool not enforced") }
        XCTAssertEqual(pool.status, 503)
        guard case .refused(let taken) = entry.slot.admit(clientID: "two") else { return XCTFail("a second client got the name") }
        XCTAssertEqual(taken.status, 409)
        XCTAssertTrue(entry.slot.isRegistered)
        let metrics = ReverseMetrics.text([entry.slot])
        XCTAssertTrue(metrics.contains("purr_reverse_clients{reverse=\"a\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("# TYPE purr_reverse_connections_total counter"), metrics)
    }
}

extension ReverseConfigTests {
    /// The publish route connects to the entry's listener: loopback and, for a specific public listen
    /// address, that address; nothing else (a wildcard listen is reached on loopback).
    func testThePublishRouteReachesASpecificPublicListenAddress() throws {
        for (listen, host) in [("10.1.2.3:2222", "10.1.2.3"), ("[fd00::5]:2222", "fd00::5")] {
            let config = try load("[[reverse]]\nname = \"a\"\npath = \"/r\"\nlisten = \"\(listen)\"\npublic = true\npublish = \"/p\"")
            let route = try XCTUnwrap(config.routes.first { $0.path == "/p" })
            XCTAssertNil(route.admit(HostPort(host: host, port: 2222)), listen)
            XCTAssertNil(route.admit(HostPort(host: "127.0.0.1", port: 2222)), listen)
            XCTAssertNotNil(route.admit(HostPort(host: "10.1.2.4", port: 2222)), listen)
        }
        let wildcard = try load("[[reverse]]\nname = \"a\"\npath = \"/r\"\nlisten = \"0.0.0.0:2222\"\npublic = true\npublish = \"/p\"")
        let route = try XCTUnwrap(wildcard.routes.first { $0.path == "/p" })
        XCTAssertNotNil(route.admit(HostPort(host: "10.1.2.3", port: 2222)))
    }
}
