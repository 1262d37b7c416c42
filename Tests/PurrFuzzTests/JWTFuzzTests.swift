import Crypto
import Foundation
import JWTKit
import PurrCore
import PurrTestSupport
import XCTest

@testable import PurrServer

/// Signed tokens built part by part (headers with every `alg`, claims of every type, signatures good,
/// foreign, broken or missing) and then mutated as text: nothing is accepted unless its signature verifies
/// with the route's key; what is accepted carries the target it signed; a clean token signed with the key
/// is accepted. Then the same against the built server, a good tunnel beside it byte-exact.
final class JWTFuzzTests: XCTestCase {
    let group = InProcessServer.group
    static let secret = "a-fuzzing-secret-of-at-least-32-bytes!!"
    static let hmacKey = SymmetricKey(data: Array(secret.utf8))
    static let ecKey = P256.Signing.PrivateKey()

    enum Algorithm { case hs256, es256 }

    struct Token {
        var text: String
        /// Built from the documented shapes only, signed with the route's key, not mutated afterwards.
        var clean: Bool
        var target: String
    }

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Lenient on purpose (padding, either alphabet): whatever a verifier might read as the signature.
    static func decodeLeniently(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "-", with: "+").replacingOccurrences(
            of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    static func sign(_ input: String, _ algorithm: Algorithm) -> [UInt8] {
        switch algorithm {
        case .hs256: Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: hmacKey))
        case .es256: Array((try? ecKey.signature(for: Array(input.utf8)).rawRepresentation) ?? Data())
        }
    }

    /// Whether `token`'s third part is a signature of its first two under the route's key.
    static func validlySigned(_ token: String, _ algorithm: Algorithm) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let signature = decodeLeniently(parts[2]) else { return false }
        let input = Array("\(parts[0]).\(parts[1])".utf8)
        switch algorithm {
        case .hs256:
            return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: input, using: hmacKey)
        case .es256:
            guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return ecKey.publicKey.isValidSignature(parsed, for: input)
        }
    }

    static func token(_ random: inout SeededRandom, _ algorithm: Algorithm, target: String, audience: String?) -> Token {
        let alg = algorithm == .hs256 ? "HS256" : "ES256"
        let other = algorithm == .hs256 ? "ES256" : "HS256"
        var clean = true
        func odd<T>(_ good: T, _ bad: [T], _ random: inout SeededRandom) -> T {
            guard random.below(4) == 0 else { return good }
            clean = false
            return FuzzMutator.pick(bad, &random)
        }
        let header = odd(
            "{\"alg\":\"\(alg)\",\"typ\":\"JWT\"}",
            [
                "{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"\(other)\"}", "{\"alg\":\"\(alg.lowercased())\"}", "{\"typ\":\"JWT\"}",
                "{\"alg\":null}", "{\"alg\":[\"\(alg)\"]}", "{\"alg\":\"\(alg)\",\"crit\":[\"exp\"]}",
                "{\"alg\":\"\(alg)\",\"kid\":\"../../k\"}",
                "{\"alg\":\"\(alg)\\u0000\"}", "{\"alg\":\"HS512\"}", "[]", "not json", "", "{\"alg\":\"\(alg)\",\"alg\":\"none\"}",
            ], &random)
        let now = Date().timeIntervalSince1970
        var claims: [String] = []
        let targetClaim = odd(
            "\"\(target)\"",
            ["5900", "null", "[\"\(target)\"]", "{\"host\":\"127.0.0.1\"}", "\"\(target)\\r\\nX: y\"", "\"10.0.0.7\"", "\"\""],
            &random)
        if random.below(12) != 0 { claims.append("\"target\":\(targetClaim)") } else { clean = false }
        let exp = odd(
            "\(Int(now) + 600)", ["\(Int(now) - 600)", "\"\(Int(now) + 600)\"", "1e308", "-1e308", "null", "true", "1e400", "[1]"], &random)
        if random.below(12) != 0 { claims.append("\"exp\":\(exp)") } else { clean = false }
        if random.below(4) == 0 {
            claims.append("\"nbf\":\(odd("\(Int(now) - 60)", ["\(Int(now) + 600)", "\"x\"", "{}"], &random))")
        }
        if let audience {
            claims.append("\"aud\":\(odd("[\"\(audience)\"]", ["\"other\"", "5", "[5, \"\(audience)x\"]", "[]", "null"], &random))")
        } else if random.below(6) == 0 {
            claims.append("\"aud\":\(odd("\"any\"", ["[\"a\",\"b\"]", "7", "{}"], &random))")
        }
        if random.below(10) == 0 { claims.append("\"pad\":\"\(String(repeating: "p", count: random.below(12000)))\"") }
        let signingInput = "\(base64URL(header.utf8)).\(base64URL("{\(claims.joined(separator: ","))}".utf8))"
        let signature: String
        switch random.below(10) {
        case 0:
            clean = false
            signature = ""
        case 1:
            clean = false
            signature = base64URL(FuzzMutator.noise(&random, maximum: 80))
        case 2:
            clean = false
            signature = base64URL(sign(signingInput, algorithm == .hs256 ? .es256 : .hs256))  // the other kind of key
        case 3:
            clean = false
            signature = Data(sign(signingInput, algorithm)).base64EncodedString()  // padded, standard alphabet
        default:
            signature = base64URL(sign(signingInput, algorithm))
        }
        var text = "\(signingInput).\(signature)"
        if random.below(3) == 0 {
            clean = false
            let dictionary = [".", "=", "+", "/", "-", "_", "eyJ", "AAAA", " "].map { Array($0.utf8) }
            text = String(decoding: FuzzMutator.mutate(Array(text.utf8), &random, dictionary: dictionary, limit: 20000), as: UTF8.self)
        }
        return Token(text: text, clean: clean && text.utf8.count <= JWTSource.maxTokenBytes, target: target)
    }

    /// Nil when the source's verdict on `token` keeps the rules; else what broke.
    static func problem(_ token: Token, _ algorithm: Algorithm, source: JWTSource) async -> String? {
        do {
            let target = try await source.verify(token.text)
            guard validlySigned(token.text, algorithm) else { return "ACCEPTED a token whose signature does not verify, target \(target)" }
            let payload = token.text.split(separator: ".", omittingEmptySubsequences: false)[1]
            guard let data = decodeLeniently(payload), let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let text = claims["target"] as? String, (try? HostPort(parsing: text)) == target
            else { return "accepted, with target \(target) that is not the token's claim" }
            return nil
        } catch {
            if token.clean { return "refused a clean token: \(error.reason): \(error.message)" }
            guard error.status == 401 else { return "refused with \(error.status)" }
            guard ["jwt_invalid", "jwt_bad_signature", "jwt_expired", "jwt_not_yet_valid", "jwt_wrong_audience"].contains(error.reason)
            else {
                return "refused with reason \(error.reason)"
            }
            if token.text.count >= 8, error.message.contains(token.text) { return "the refusal shows the token" }
            if let wrong = FuzzChecks.oneLineProblem(error.message) { return "the refusal \(wrong): \(error.message.debugDescription)" }
            return nil
        }
    }

    func testTokensInProcess() async throws {
        let hs = JWTSource(config: try JWTConfig(key: .hs256(secret: Self.secret), audience: "purr-east"))
        let es = JWTSource(
            config: try JWTConfig(key: .es256(try ES256PublicKey(pem: Self.ecKey.publicKey.pemRepresentation), file: "k.pem")))
        let run = FuzzRun("jwt", iterations: 3000)
        var accepted = 0
        var refused = 0
        let count = try await run.inputsAsync { index, random in
            let algorithm: Algorithm = random.below(2) == 0 ? .hs256 : .es256
            let token = Self.token(&random, algorithm, target: "127.0.0.1:5900", audience: algorithm == .hs256 ? "purr-east" : nil)
            let source = algorithm == .hs256 ? hs : es
            if let problem = await Self.problem(token, algorithm, source: source) {
                XCTFail("\(run.label(index)): \(problem); token \(token.text.prefix(300).debugDescription)")
                return false
            }
            if (try? await source.verify(token.text)) != nil { accepted += 1 } else { refused += 1 }
            return true
        }
        run.expect(accepted, atLeast: 0.03, of: count, "accepted tokens")
        run.expect(refused, atLeast: 0.3, of: count, "refused tokens")
    }

    /// Tokens presented to the built server (query and Authorization), a good tunnel beside it.
    func testTokensAgainstTheBuiltServer() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/j"
                jwt_key = "\(Self.secret)"
                allow = ["127.0.0.1:\(target.port)"]
                """, arguments: ["--log-level", "error"])
        defer { server.stop() }
        let goodTarget = "127.0.0.1:\(target.port)"
        var seedRandom = SeededRandom(state: 42)
        var good = Self.token(&seedRandom, .hs256, target: goodTarget, audience: nil)
        while !good.clean { good = Self.token(&seedRandom, .hs256, target: goodTarget, audience: nil) }
        let beside = try BlockingSocket(port: port, timeout: 15)
        XCTAssertTrue(try beside.upgrade(path: "/j", port: port, token: good.text).head.hasPrefix("HTTP/1.1 101"))
        let run = FuzzRun("jwt-server", iterations: 250)
        let watch = BesideWatch(beside: beside, pid: server.pid)
        var answers: [Int: Int] = [:]
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let count = try run.inputs { index, random in
            let token = Self.token(&random, .hs256, target: goodTarget, audience: nil)
            let socket = try BlockingSocket(port: port, timeout: 15)
            defer { socket.close() }
            let head: String
            let printable = token.text.unicodeScalars.allSatisfy { (0x21..<0x7f).contains($0.value) }
            if printable && random.below(2) == 0 {
                head = try socket.upgrade(path: "/j", port: port, token: token.text).head
            } else {
                let query = token.text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
                head = try socket.upgrade(path: "/j?token=\(query)", port: port).head
            }
            let got = Int(head.dropFirst(9).prefix(3)) ?? -1
            answers[got, default: 0] += 1
            if got == 101 {
                guard Self.validlySigned(token.text, .hs256) else {
                    XCTFail(
                        "\(run.label(index)): ACCEPTED a token whose signature does not verify: \(token.text.prefix(200).debugDescription)")
                    return false
                }
                let payload = TestKit.randomPayload(count: 4096, seed: random.next() | 1)
                try socket.write(payload)
                XCTAssertEqual(try socket.read(exactly: payload.count), payload, run.label(index))
            } else if token.clean || ![400, 401, 403, 431].contains(got) {
                let rest = String(decoding: (try? socket.readToEnd(limit: 1 << 16)) ?? [], as: UTF8.self)
                XCTFail("\(run.label(index)): \(token.clean ? "a clean token" : "a token") got \(head.prefix(12)) \(rest.debugDescription)")
                return false
            }
            try watch.sample(index, run.label(index))
            return server.process.isRunning
        }
        XCTAssertTrue(server.process.isRunning, server.stderr)
        run.expect(answers[101, default: 0], atLeast: 0.03, of: count, "101s: \(answers)")
        run.expect(answers[401, default: 0], atLeast: 0.3, of: count, "401s: \(answers)")
        print("fuzz jwt-server: answers \(answers), \(watch.memory("server"))")
        try watch.finish(seed: 11)
    }
}
