import Foundation
import JWTKit
import PurrCore

/// Reads each request's target from a signed token (JWT, HS256 or ES256) that the client presents: a
/// web console signs a short-lived token for exactly one machine and the server keeps no state. Every
/// refusal is a 401 with its own label and line (`jwt_expired`, `jwt_not_yet_valid`,
/// `jwt_bad_signature`, `jwt_wrong_audience`, `jwt_invalid`); no message contains the token.
public final class JWTSource: Sendable {
    public let config: JWTConfig
    /// The verifier; an actor, so made once, in the background, and awaited by each request.
    private let keys: Task<JWTKeyCollection, Never>
    /// Tokens longer than this are not read at all.
    static let maxTokenBytes = 8192

    public init(config: JWTConfig) {
        self.config = config
        let key = config.key
        keys = Task {
            let keys = JWTKeyCollection()
            switch key {
            case .hs256(let secret): await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            case .es256(let publicKey, _): await keys.add(ecdsa: publicKey)
            }
            return keys
        }
    }

    /// The claims of a token whose signature, algorithm and times hold, at `now`.
    func verify(_ token: String?, now: Date = Date()) async throws(TargetRefusal) -> HostPort {
        guard let token, !token.isEmpty else {
            throw Self.refusal("jwt_invalid", "no token: send the signed token as Authorization: Bearer, Purr-Token or ?token=")
        }
        guard token.utf8.count <= Self.maxTokenBytes else { throw Self.refusal("jwt_invalid", "the token is too long to be a Purr token") }
        let algorithm = try Self.algorithm(of: token)
        guard algorithm == config.key.algorithm else {
            throw Self.refusal("jwt_invalid", "the token is signed with \(algorithm); this route accepts \(config.key.algorithm)")
        }
        let claims: JWTTargetClaims
        do {
            claims = try await keys.value.verify(token, as: JWTTargetClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw Self.refusal("jwt_bad_signature", "the token's signature does not verify with this route's key")
        } catch {
            throw Self.refusal("jwt_invalid", "the token is not a valid JWT (its parts or claims cannot be read)")
        }
        return try check(claims, now: now)
    }

    /// Times, audience and target, each refused in its own words.
    func check(_ claims: JWTTargetClaims, now: Date) throws(TargetRefusal) -> HostPort {
        guard let exp = claims.exp else { throw Self.refusal("jwt_invalid", "the token has no 'exp' (expiry) claim") }
        guard now < exp.value else { throw Self.refusal("jwt_expired", "the token expired at \(Self.timestamp(exp.value))") }
        if let nbf = claims.nbf, now < nbf.value {
            throw Self.refusal("jwt_not_yet_valid", "the token is not valid before \(Self.timestamp(nbf.value))")
        }
        if let audience = config.audience, !(claims.aud?.value.contains(audience) ?? false) {
            throw Self.refusal("jwt_wrong_audience", "the token is not meant for this server (wrong 'aud')")
        }
        guard let text = claims.target else { throw Self.refusal("jwt_invalid", "the token has no 'target' claim") }
        do {
            return try HostPort(parsing: text)
        } catch {
            // The claim is the signer's text, whatever it holds: one printable line in the refusal and the log.
            throw Self.refusal("jwt_invalid", PrintableProblem.line("the token's 'target' claim: \(error.message)"))
        }
    }

    /// The `alg` of the token's header, read before anything is verified (no `none`, no key confusion).
    static func algorithm(of token: String) throws(TargetRefusal) -> String {
        struct Header: Decodable { var alg: String? }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = base64URLDecode(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: data)
        else {
            throw refusal("jwt_invalid", "the token is not a JWT (expected three base64url parts, the first a JSON header)")
        }
        guard let alg = header.alg, !alg.isEmpty, alg.count <= 16, alg.allSatisfy({ $0.isLetter || $0.isNumber }) else {
            throw refusal("jwt_invalid", "the token's header has no usable 'alg'")
        }
        return alg
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func refusal(_ reason: String, _ message: String) -> TargetRefusal {
        TargetRefusal(status: 401, message: message, reason: reason)
    }
}

extension JWTSource: TargetSource {
    public func target(for request: TargetRequest) async throws(TargetRefusal) -> HostPort {
        try await verify(request.token)
    }
}
