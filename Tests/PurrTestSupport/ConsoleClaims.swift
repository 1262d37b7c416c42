import Foundation
import JWTKit

/// Claims as a web console would sign them.
public struct ConsoleClaims: JWTPayload {
    public var target: String?
    public var exp: ExpirationClaim?
    public var nbf: NotBeforeClaim?
    public var aud: AudienceClaim?

    public init(target: String? = "10.0.0.7:5900", expiresIn: Double? = 60, notBefore: Double? = nil, audience: String? = nil) {
        self.target = target
        exp = expiresIn.map { ExpirationClaim(value: Date().addingTimeInterval($0)) }
        nbf = notBefore.map { NotBeforeClaim(value: Date().addingTimeInterval($0)) }
        aud = audience.map { AudienceClaim(value: [$0]) }
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Signs tokens the way a web console does, with jwt-kit.
public enum TokenSigner {
    public static let secret = "a-shared-secret-of-at-least-32-bytes!"

    public static func hs256(_ claims: ConsoleClaims, secret: String = secret) async throws -> String {
        try await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256).sign(claims)
    }

    public static func es256(_ claims: ConsoleClaims, key: ES256PrivateKey) async throws -> String {
        try await JWTKeyCollection().add(ecdsa: key).sign(claims)
    }

    /// A token with any header and payload JSON and a junk signature (for `alg: none` and friends).
    public static func forged(header: String, payload: String) -> String {
        func encode(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        return "\(encode(header)).\(encode(payload)).c2ln"
    }
}
