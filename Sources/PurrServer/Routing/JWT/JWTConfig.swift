import Foundation
import JWTKit
import PurrCore

/// A route whose target travels in a signed token (JWT): `jwt_key` (an HS256 secret) or
/// `jwt_public_key_file` (an ES256 public key, PEM), and optionally `jwt_audience`. The key is read and
/// checked when the configuration is loaded.
public struct JWTConfig: Sendable, Equatable {
    /// The route keys this form owns.
    public static let keys: Set<String> = ["jwt_key", "jwt_public_key_file", "jwt_audience"]
    /// RFC 7518 3.2: an HS256 key is at least as long as the hash (256 bits).
    public static let minimumSecretBytes = 32

    public enum Key: Sendable, Equatable {
        /// A shared secret; never logged.
        case hs256(secret: String)
        /// A P-256 public key, and the file it came from.
        case es256(ES256PublicKey, file: String)

        /// The JWT `alg` this key verifies.
        public var algorithm: String {
            switch self {
            case .hs256: "HS256"
            case .es256: "ES256"
            }
        }
    }

    public let key: Key
    /// When set, a token's `aud` must include it.
    public let audience: String?

    public init(key: Key, audience: String? = nil) throws(ConfigError) {
        if case .hs256(let secret) = key, secret.utf8.count < Self.minimumSecretBytes {
            throw ConfigError("jwt_key: an HS256 secret needs at least \(Self.minimumSecretBytes) bytes (it has \(secret.utf8.count))")
        }
        if let audience, audience.isEmpty { throw ConfigError("jwt_audience is empty") }
        self.key = key
        self.audience = audience
    }

    /// Reads an ES256 public key (`BEGIN PUBLIC KEY`) or a certificate carrying one.
    public static func loadPublicKey(file: String) throws(ConfigError) -> ES256PublicKey {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError("\(file): cannot read: \(TOMLReader.describe(error))")
        }
        do {
            if text.contains("-----BEGIN CERTIFICATE-----") { return try ES256PublicKey(certificate: text) }
            return try ES256PublicKey(pem: text)
        } catch {
            throw ConfigError("\(file): not a P-256 (ES256) public key in PEM (BEGIN PUBLIC KEY or CERTIFICATE)")
        }
    }
}

extension JWTConfig: CustomStringConvertible {
    /// Safe to log: no secret.
    public var description: String {
        switch key {
        case .hs256: "signed tokens (HS256)"
        case .es256(_, let file): "signed tokens (ES256, \(file))"
        }
    }
}

extension JWTConfig {
    /// The signed-token keys of one `[[routes]]` entry: nil when it has neither `jwt_key` nor
    /// `jwt_public_key_file`. A relative key file is taken from the config file's directory.
    public static func parse(route entry: TOMLReader) throws(ConfigError) -> JWTConfig? {
        let secret = try entry.string("jwt_key")
        let keyFile = try entry.string("jwt_public_key_file")
        let audience = try entry.string("jwt_audience")
        let key: Key
        switch (secret, keyFile) {
        case (nil, nil):
            if audience != nil {
                throw ConfigError("\(entry.file): \(entry.path).jwt_audience: only for a route with jwt_key or jwt_public_key_file")
            }
            return nil
        case (.some, .some):
            throw ConfigError("\(entry.file): \(entry.path): jwt_key and jwt_public_key_file exclude each other (HS256 or ES256)")
        case (.some(let secret), nil):
            key = .hs256(secret: secret)
        case (nil, .some(let file)):
            let path = ConfigPaths.resolve(file, besideConfig: entry.file)
            do {
                key = .es256(try loadPublicKey(file: path), file: path)
            } catch {
                throw ConfigError("\(entry.file): \(entry.path).jwt_public_key_file: \(error.message)")
            }
        }
        do {
            return try JWTConfig(key: key, audience: audience)
        } catch {
            throw ConfigError("\(entry.file): \(entry.path).\(error.message)")
        }
    }
}
