import Foundation
import Logging
import PurrCore
import PurrServer
import XCTest

final class RouteAndConfigTests: XCTestCase {
    let target = HostPort(host: "127.0.0.1", port: 22)

    func testPathMatchesExactlyOrAsPrefixEndingAtSlash() throws {
        let table = RouteTable([
            try Route(path: "/ssh", target: target),
            try Route(path: "/db/", target: HostPort(host: "127.0.0.1", port: 5432)),
            try Route(path: "/db/main", target: HostPort(host: "127.0.0.1", port: 5433)),
        ])
        XCTAssertEqual(table.match(path: "/ssh", host: nil)?.path, "/ssh")
        XCTAssertEqual(table.match(path: "/ssh/extra", host: nil)?.path, "/ssh")
        XCTAssertNil(table.match(path: "/sshx", host: nil))
        XCTAssertEqual(table.match(path: "/db/other", host: nil)?.path, "/db/")
        XCTAssertEqual(table.match(path: "/db/main", host: nil)?.target.fixed?.port, 5433, "longest match wins")
        XCTAssertNil(table.match(path: "/", host: nil), "unknown routes are denied")
        XCTAssertNil(RouteTable([]).match(path: "/ssh", host: nil))
    }

    func testHostMatching() throws {
        let table = RouteTable([
            try Route(path: "/ssh", target: target, host: "a.example"),
            try Route(path: "/ssh", target: HostPort(host: "127.0.0.1", port: 23)),
        ])
        XCTAssertEqual(table.match(path: "/ssh", host: "A.example:8080")?.target.fixed?.port, 22)
        XCTAssertEqual(table.match(path: "/ssh", host: "b.example")?.target.fixed?.port, 23)
        let only = RouteTable([try Route(path: "/ssh", target: target, host: "a.example")])
        XCTAssertNil(only.match(path: "/ssh", host: "b.example"))
        XCTAssertNil(only.match(path: "/ssh", host: nil))
    }

    func testRouteFlag() throws {
        let route = try Route(flag: "/ssh=[::1]:22")
        XCTAssertEqual(route.target, .fixed(HostPort(host: "::1", port: 22)))
        XCTAssertThrowsError(try Route(flag: "/ssh")) { XCTAssertTrue("\($0)".contains("PATH=HOST:PORT")) }
        XCTAssertThrowsError(try Route(flag: "ssh=127.0.0.1:22")) { XCTAssertTrue("\($0)".contains("must start with '/'")) }
        XCTAssertThrowsError(try Route(flag: "/ssh=127.0.0.1")) { XCTAssertTrue("\($0)".contains("--route")) }
    }

    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testLoadsServerToml() throws {
        let file = try write(
            """
            listen = "[::1]:9000"
            header_timeout = 2.5
            drain_timeout = 3
            log_level = "debug"
            threads = 1

            [[routes]]
            path = "/ssh"
            target = "127.0.0.1:22"
            token = "s3cret"

            [[routes]]
            path = "/vnc"
            target = "localhost:5900"
            host = "vnc.example"
            """)
        let config = try ServerConfig.load(file: file)
        XCTAssertEqual(config.listen, HostPort(host: "::1", port: 9000))
        XCTAssertEqual(config.headerTimeout, 2.5)
        XCTAssertEqual(config.drainTimeout, 3)
        XCTAssertEqual(config.logLevel, .debug)
        XCTAssertEqual(config.threads, 1)
        XCTAssertNil(ServerConfig().threads, "one per core unless asked")
        XCTAssertEqual(config.routes.count, 2)
        XCTAssertEqual(config.routes[0].token, "s3cret")
        XCTAssertEqual(config.routes[1].host, "vnc.example")
    }

    func testConfigErrorsNameFileAndKeyOrLine() throws {
        let cases: [(String, String)] = [
            ("listen = \"nowhere\"", "listen: 'nowhere': expected HOST:PORT"),
            ("lisen = \"127.0.0.1:1\"", "unknown key 'lisen'"),
            ("[[routes]]\npath = \"/a\"\ntarget = \"x:1\"\ncolour = 1", "unknown key 'routes[0].colour'"),
            ("[[routes]]\npath = \"/a\"", "routes[0].target: missing"),
            ("[[routes]]\npath = \"/a\"\ntarget = 22", "routes[0].target: expected a string"),
            ("[[routes]]\npath = \"a\"\ntarget = \"x:1\"", "routes[0].path: route path 'a' must start with '/'"),
            ("header_timeout = -1", "header_timeout: -1.0 is out of range"),
            ("threads = 0", "threads: 0 is out of range"),
            ("threads = 257", "threads: 257 is out of range"),
            ("log_level = \"loud\"", "log_level: 'loud' is not a log level"),
            ("listen = \n", ":1:"),
            ("[[routes]]\npath = \"/a\"\ntarget = \"x:1\"\n[[routes]]\npath = \"/a\"\ntarget = \"x:2\"", "already defined"),
        ]
        for (text, expected) in cases {
            let file = try write(text)
            XCTAssertThrowsError(try ServerConfig.load(file: file), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(file), "\(message) should start with the file name")
                XCTAssertTrue(message.contains(expected), "\(message) should contain \(expected)")
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
            }
        }
        XCTAssertThrowsError(try ServerConfig.load(file: "/nonexistent/server.toml")) {
            XCTAssertTrue("\($0)".contains("/nonexistent/server.toml: cannot read"))
        }
    }
}
