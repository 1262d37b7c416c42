import Crypto
import Foundation
import JWTKit
import PurrCore
import PurrTestSupport
import XCTest

/// The built `purr-server` with signed-token routes: tokens signed as a web console signs them (PyJWT
/// from the test venv; jwt-kit), presented by the built `purr` client and by raw sockets.
final class SignedTokenEndToEndTests: XCTestCase {
    let group = InProcessServer.group
    let secret = "a-web-console-secret-of-32-bytes-or-more"

    func metric(_ name: String, reason: String, adminPort: Int) throws -> Int {
        let body = try BlockingSocket.get("/metrics", port: adminPort)
        let line = body.split(separator: "\n").first { $0.hasPrefix(name) && $0.contains("reason=\"\(reason)\"") }
        return Int(line?.split(separator: " ").last ?? "0") ?? 0
    }

    /// `purr connect` with the console's token reaches the token's target; the client's listener echoes.
    func testHS256TokenFromAPythonConsoleThroughPurrConnect() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let adminPort = RunningProcess.freePort()
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [admin]
                port = \(adminPort)

                [[routes]]
                path = "/vnc"
                jwt_key = "\(secret)"
                allow = ["127.0.0.1:*"]
                """)
        defer { server.stop() }
        let token = try PyJWTSigner.sign(["target": "127.0.0.1:\(target.port)", "exp": 60], algorithm: "HS256", key: secret)
        let client = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(port)/vnc", "--token", token, "--listen", "127.0.0.1:0"])
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = try XCTUnwrap(client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") })
        let localPort = try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: ",").first!))
        let socket = try BlockingSocket(port: localPort, timeout: 15)
        try socket.write("through a signed token")
        XCTAssertEqual(String(decoding: try socket.read(exactly: 22), as: UTF8.self), "through a signed token")
        socket.close()
        // A browser puts the token in the URL; other clients may send Purr-Token.
        for (path, header) in [("/vnc?token=\(token)", ""), ("/vnc", "Purr-Token: \(token)\r\n")] {
            let raw = try BlockingSocket(port: port, timeout: 15)
            try raw.write(
                "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: Upgrade\r\nUpgrade: purr\r\nPurr-Request: MEOW\r\n"
                    + "Purr-Version: 0.1.2\r\n\(header)\r\n")
            let (head, _) = try raw.readHead()
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), "\(header.isEmpty ? "?token=" : "Purr-Token"): \(head)")
            try raw.write("ok")
            XCTAssertEqual(try raw.read(exactly: 2), Array("ok".utf8))
            raw.close()
        }
        // /stats names the route's form and key by an id, never the secret nor a digest of it that a
        // guessed secret could be checked against offline.
        let snapshot = try BlockingSocket.get("/stats", port: adminPort)
        XCTAssertTrue(snapshot.contains("signed tokens (HS256, key id:"), snapshot)
        let digest = SHA256.hash(data: Array(secret.utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
        XCTAssertFalse(snapshot.contains(digest), "an unsalted digest of the secret in /stats")
        XCTAssertFalse(snapshot.contains(secret))
        XCTAssertFalse(snapshot.contains(token))
        XCTAssertEqual(server.signal(SIGTERM), 0)
        XCTAssertFalse(server.stderr.contains(token), "the token in the server's log")
        XCTAssertFalse(server.stderr.contains(secret), "the secret in the server's log")
    }

    /// An ES256 key pair made with openssl, as the README says; PyJWT signs with the private key.
    func testES256KeyMadeWithOpenSSLAndEachRefusal() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-es256-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try RunningProcess.run(
            absolute: "/bin/sh",
            [
                "-c",
                "cd '\(directory)' && openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out console-es256.pem"
                    + " && openssl ec -in console-es256.pem -pubout -out console-es256.pub.pem 2>/dev/null",
            ], timeout: 30)
        XCTAssertEqual(keys.status, 0, keys.stderr)
        let privateKey = "\(directory)/console-es256.pem"
        let adminPort = RunningProcess.freePort()
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [admin]
                port = \(adminPort)

                [[routes]]
                path = "/vnc"
                jwt_public_key_file = "console-es256.pub.pem"
                jwt_audience = "purr-east"
                allow = ["127.0.0.1:\(target.port)"]
                """, in: URL(fileURLWithPath: directory))
        defer { server.stop() }

        func sign(_ claims: [String: Any]) throws -> String {
            try PyJWTSigner.sign(claims, algorithm: "ES256", key: privateKey)
        }
        let good = try sign(["target": "127.0.0.1:\(target.port)", "exp": 60, "aud": "purr-east"])
        let socket = try BlockingSocket(port: port, timeout: 15)
        let (head, _) = try socket.upgrade(path: "/vnc", port: port, token: good)
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 101"), head)
        try socket.write("es256")
        XCTAssertEqual(String(decoding: try socket.read(exactly: 5), as: UTF8.self), "es256")
        socket.close()

        let otherKey = try await JWTKeyCollection().add(ecdsa: ES256PrivateKey())
            .sign(ConsoleClaims(target: "127.0.0.1:\(target.port)", audience: "purr-east"))
        let hs256 = try PyJWTSigner.sign(
            ["target": "127.0.0.1:\(target.port)", "exp": 60, "aud": "purr-east"], algorithm: "HS256", key: secret)
        let cases: [(String?, Int, String, String)] = [
            (
                try sign(["target": "127.0.0.1:\(target.port)", "exp": -10, "aud": "purr-east"]), 401, "jwt_expired",
                "the token expired at "
            ),
            (
                try sign(["target": "127.0.0.1:\(target.port)", "exp": 600, "nbf": 300, "aud": "purr-east"]), 401, "jwt_not_yet_valid",
                "the token is not valid before "
            ),
            (otherKey, 401, "jwt_bad_signature", "the token's signature does not verify with this route's key"),
            (
                try sign(["target": "127.0.0.1:\(target.port)", "exp": 60, "aud": "purr-west"]), 401, "jwt_wrong_audience",
                "the token is not meant for this server (wrong 'aud')"
            ),
            (hs256, 401, "jwt_invalid", "the token is signed with HS256; this route accepts ES256"),
            (nil, 401, "jwt_invalid", "no token: send the signed token as Authorization: Bearer, Purr-Token or ?token="),
            (try sign(["target": "127.0.0.1:22", "exp": 60, "aud": "purr-east"]), 403, "forbidden_target", "127.0.0.1:22"),
        ]
        for (token, status, reason, message) in cases {
            let answer = try BlockingSocket.refusal(path: "/vnc", port: port, token: token)
            XCTAssertEqual(answer.status, status, "\(reason): \(answer.body)")
            XCTAssertTrue(
                reason == "forbidden_target" ? answer.body.contains(message) : answer.body.hasPrefix(message),
                "\(reason): \(answer.body) should say \(message)")
            if let token { XCTAssertFalse(answer.body.contains(token)) }
        }
        XCTAssertTrue(
            TestKit.poll {
                cases.allSatisfy { (try? self.metric("purr_failures_total", reason: $0.2, adminPort: adminPort)) ?? 0 >= 1 }
            }, "each refusal is counted under its label")
        XCTAssertEqual(server.signal(SIGTERM), 0)
        for (token, _, _, _) in cases { if let token { XCTAssertFalse(server.stderr.contains(token)) } }
    }

    func testBadSignedTokenKeysStopTheServerWithOneLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-bad-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [(String, String)] = [
            ("jwt_key = \"short\"\nallow = [\"127.0.0.1:*\"]", "routes[0].jwt_key: an HS256 secret needs at least 32 bytes"),
            (
                "jwt_public_key_file = \"nope.pem\"\nallow = [\"127.0.0.1:*\"]",
                "routes[0].jwt_public_key_file: \(directory)/nope.pem: cannot read"
            ),
            ("jwt_key = \"\(secret)\"", "routes[0].allow: missing"),
        ]
        for (keys, expected) in cases {
            let path = "\(directory)/server.toml"
            try "[[routes]]\npath = \"/vnc\"\n\(keys)\n".write(toFile: path, atomically: true, encoding: .utf8)
            let result = try RunningProcess.run("purr-server", ["--config", path])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), "\(result.stderr) should contain \(expected)")
            XCTAssertFalse(result.stderr.contains(secret))
        }
    }
}
