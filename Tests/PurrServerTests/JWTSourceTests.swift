import Foundation
import JWTKit
import PurrCore
import PurrTestSupport
import XCTest

@testable import PurrServer

/// Signed tokens (HS256 and ES256) signed in the test: success, and each refusal with its own label.
final class JWTSourceTests: XCTestCase {
    func refusal(_ source: JWTSource, token: String?) async -> TargetRefusal? {
        do {
            let target = try await source.target(for: TargetRequest(path: "/vnc", routePath: "/vnc", token: token))
            XCTFail("expected a refusal, got \(target)")
            return nil
        } catch {
            if let token { XCTAssertFalse(error.message.contains(token), "a message never holds the token") }
            XCTAssertEqual(error.status, 401)
            return error
        }
    }

    func target(_ source: JWTSource, token: String) async throws -> HostPort {
        try await source.target(for: TargetRequest(path: "/vnc", routePath: "/vnc", token: token))
    }

    func testHS256() async throws {
        let source = JWTSource(config: try JWTConfig(key: .hs256(secret: TokenSigner.secret)))
        let token = try await TokenSigner.hs256(ConsoleClaims(target: "10.0.0.7:5900"))
        let resolved = try await target(source, token: token)
        XCTAssertEqual(resolved, HostPort(host: "10.0.0.7", port: 5900))
        let v6 = try await target(source, token: try await TokenSigner.hs256(ConsoleClaims(target: "[fd00::7]:5901")))
        XCTAssertEqual(v6, HostPort(host: "fd00::7", port: 5901))

        let cases: [(ConsoleClaims, String, String)] = [
            (ConsoleClaims(expiresIn: -30), "jwt_expired", "the token expired at "),
            (ConsoleClaims(notBefore: 300), "jwt_not_yet_valid", "the token is not valid before "),
            (ConsoleClaims(expiresIn: nil), "jwt_invalid", "the token has no 'exp' (expiry) claim"),
            (ConsoleClaims(target: nil), "jwt_invalid", "the token has no 'target' claim"),
            (ConsoleClaims(target: "10.0.0.7"), "jwt_invalid", "the token's 'target' claim: '10.0.0.7': expected HOST:PORT"),
            (
                ConsoleClaims(target: "evil host:22"), "jwt_invalid",
                "the token's 'target' claim: 'evil host:22': the host 'evil host' has characters"
            ),
        ]
        for (claims, reason, message) in cases {
            let token = try await TokenSigner.hs256(claims)
            let refused = await refusal(source, token: token)
            XCTAssertEqual(refused?.reason, reason, "\(claims)")
            XCTAssertTrue(refused?.message.hasPrefix(message) ?? false, "\(refused?.message ?? "nil") should start with \(message)")
        }

        let otherKey = try await TokenSigner.hs256(ConsoleClaims(), secret: "another-secret-that-is-also-32-bytes-long")
        let badSignature = await refusal(source, token: otherKey)
        XCTAssertEqual(
            badSignature,
            TargetRefusal(status: 401, message: "the token's signature does not verify with this route's key", reason: "jwt_bad_signature"))
        // A valid token with a changed payload (a different target) no longer verifies.
        let parts = token.split(separator: ".")
        let swapped = TokenSigner.forged(
            header: "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload: "{\"target\":\"10.0.0.8:22\",\"exp\":9999999999}"
        )
        .split(separator: ".")
        let tampered = "\(parts[0]).\(swapped[1]).\(parts[2])"
        let refusedTampered = await refusal(source, token: tampered)
        XCTAssertEqual(refusedTampered?.reason, "jwt_bad_signature")
    }

    func testES256WithAGeneratedKey() async throws {
        let privateKey = ES256PrivateKey()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try privateKey.publicKey.pemRepresentation.write(toFile: "\(directory)/console.pub.pem", atomically: true, encoding: .utf8)
        let toml = try TOMLReader.parse(
            "[[routes]]\npath = \"/vnc\"\njwt_public_key_file = \"console.pub.pem\"\njwt_audience = \"purr-east\"\n",
            file: "\(directory)/server.toml")
        let entry = DynamicRouteEntry(reader: try toml.tables("routes")[0], path: "/vnc", captures: [], selector: "jwt_public_key_file")
        let config = try JWTConfig.parse(entry)
        XCTAssertEqual(config.key.algorithm, "ES256")
        let source = JWTSource(config: config)

        let token = try await TokenSigner.es256(ConsoleClaims(target: "vm-17.vms.internal:5900", audience: "purr-east"), key: privateKey)
        let resolved = try await target(source, token: token)
        XCTAssertEqual(resolved, HostPort(host: "vm-17.vms.internal", port: 5900))

        let wrongAudience = await refusal(source, token: try await TokenSigner.es256(ConsoleClaims(audience: "purr-west"), key: privateKey))
        XCTAssertEqual(
            wrongAudience,
            TargetRefusal(status: 401, message: "the token is not meant for this server (wrong 'aud')", reason: "jwt_wrong_audience"))
        let noAudience = await refusal(source, token: try await TokenSigner.es256(ConsoleClaims(), key: privateKey))
        XCTAssertEqual(noAudience?.reason, "jwt_wrong_audience")
        let otherKey = await refusal(
            source, token: try await TokenSigner.es256(ConsoleClaims(audience: "purr-east"), key: ES256PrivateKey()))
        XCTAssertEqual(otherKey?.reason, "jwt_bad_signature")
        let expired = await refusal(
            source, token: try await TokenSigner.es256(ConsoleClaims(expiresIn: -1, audience: "purr-east"), key: privateKey))
        XCTAssertEqual(expired?.reason, "jwt_expired")
    }

    func testWhatIsNotASignedTokenOfThisRoute() async throws {
        let source = JWTSource(config: try JWTConfig(key: .hs256(secret: TokenSigner.secret)))
        let es256Source = JWTSource(config: try JWTConfig(key: .es256(ES256PrivateKey().publicKey, file: "k.pem")))
        let hs256Token = try await TokenSigner.hs256(ConsoleClaims())
        let esToken = try await TokenSigner.es256(ConsoleClaims(), key: ES256PrivateKey())

        let cases: [(JWTSource, String?, String)] = [
            (source, nil, "no token: send the signed token as Authorization: Bearer, Purr-Token or ?token="),
            (source, "", "no token: send the signed token as Authorization: Bearer, Purr-Token or ?token="),
            (source, "not-a-jwt", "the token is not a JWT (expected three base64url parts, the first a JSON header)"),
            (source, "a.b.c.d", "the token is not a JWT (expected three base64url parts, the first a JSON header)"),
            (source, TokenSigner.forged(header: "{\"typ\":\"JWT\"}", payload: "{}"), "the token's header has no usable 'alg'"),
            (
                source, TokenSigner.forged(header: "{\"alg\":\"none\"}", payload: "{\"target\":\"10.0.0.1:22\",\"exp\":9999999999}"),
                "the token is signed with none; this route accepts HS256"
            ),
            (source, esToken, "the token is signed with ES256; this route accepts HS256"),
            (es256Source, hs256Token, "the token is signed with HS256; this route accepts ES256"),
            (
                source, TokenSigner.forged(header: "{\"alg\":\"HS256\"}", payload: "{\"target\": 5, \"exp\": 9999999999}"),
                "the token's signature does not verify with this route's key"
            ),
            (source, String(repeating: "a", count: 9000), "the token is too long to be a Purr token"),
        ]
        for (source, token, message) in cases {
            let refused = await refusal(source, token: token)
            XCTAssertEqual(refused?.message, message)
            let reason = message.hasPrefix("the token's signature") ? "jwt_bad_signature" : "jwt_invalid"
            XCTAssertEqual(refused?.reason, reason, message)
        }
        // Signed, but the claims are not of the expected types: invalid, not a signature problem.
        let badTypes = try await JWTKeyCollection().add(hmac: HMACKey(from: TokenSigner.secret), digestAlgorithm: .sha256)
            .sign(TypedWrongly(target: 5, exp: "tomorrow"))
        let refused = await refusal(source, token: badTypes)
        XCTAssertEqual(refused?.reason, "jwt_invalid")
        XCTAssertEqual(refused?.message, "the token is not a valid JWT (its parts or claims cannot be read)")
    }

    struct TypedWrongly: JWTPayload {
        var target: Int
        var exp: String
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    func testConfigKeys() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = "\(directory)/server.toml"
        try "not a key\n".write(toFile: "\(directory)/junk.pem", atomically: true, encoding: .utf8)
        func parse(_ keys: String) throws(ConfigError) -> JWTConfig {
            let toml = try TOMLReader.parse("[[routes]]\npath = \"/vnc\"\n\(keys)\n", file: file)
            return try JWTConfig.parse(
                DynamicRouteEntry(reader: try toml.tables("routes")[0], path: "/vnc", captures: [], selector: "jwt_key"))
        }
        let hs = try parse("jwt_key = \"\(TokenSigner.secret)\"")
        XCTAssertEqual(hs.key, .hs256(secret: TokenSigner.secret))
        XCTAssertNil(hs.audience)
        XCTAssertFalse("\(hs)".contains(TokenSigner.secret))

        let bad: [(String, String)] = [
            ("jwt_key = \"short\"", "\(file): routes[0].jwt_key: an HS256 secret needs at least 32 bytes (it has 5)"),
            (
                "jwt_key = \"\(TokenSigner.secret)\"\njwt_public_key_file = \"k.pem\"",
                "\(file): routes[0]: jwt_key and jwt_public_key_file exclude each other"
            ),
            ("jwt_audience = \"purr\"", "\(file): routes[0]: jwt_key or jwt_public_key_file is required"),
            ("jwt_key = \"\(TokenSigner.secret)\"\njwt_audience = \"\"", "\(file): routes[0].jwt_audience is empty"),
            (
                "jwt_public_key_file = \"missing.pem\"",
                "\(file): routes[0].jwt_public_key_file: \(directory)/missing.pem: cannot read: no such file"
            ),
            (
                "jwt_public_key_file = \"junk.pem\"",
                "\(file): routes[0].jwt_public_key_file: \(directory)/junk.pem: not a P-256 (ES256) public key in PEM"
            ),
            ("jwt_key = 5", "\(file): routes[0].jwt_key: expected a string"),
        ]
        for (keys, expected) in bad {
            do {
                _ = try parse(keys)
                XCTFail("\(keys): accepted")
            } catch {
                XCTAssertTrue(error.message.hasPrefix(expected), "\(keys): \(error.message) should start with \(expected)")
                XCTAssertFalse(error.message.contains(TokenSigner.secret))
            }
        }
    }
}
