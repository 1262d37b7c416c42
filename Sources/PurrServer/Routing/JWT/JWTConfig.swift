import Crypto
import Foundation
import JWTKit
import PurrCore

/// A route whose target travels in a signed token (JWT): `jwt_key` (an HS256 secret) or
/// `jwt_public_key_file` (an ES256 public key, PEM), and optionally `jwt_audience`. The key is read and
/// checked when the configuration is loaded.
public struct JWTConfig: Sendable, Equatable {
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
    /// The key's fingerprint tells keys apart (a reload that changes the key changes the route) and
    /// reveals nothing of a secret: an HMAC under a key made at start, so it cannot be checked offline
    /// against a guessed secret (a plain digest could), and it changes with every restart.
    public var description: String {
        switch key {
        case .hs256(let secret): "signed tokens (HS256, key \(Self.fingerprint(Array(secret.utf8))))"
        case .es256(let publicKey, let file):
            "signed tokens (ES256, \(file), key \(Self.fingerprint(Array(publicKey.pemRepresentation.utf8))))"
        }
    }

    static func fingerprint(_ bytes: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: fingerprintKey)
        return "id:" + mac.prefix(4).map { String(format: "%02x", $0) }.joined()
    }

    /// Per process: fingerprints are comparable within one run (reloads), never across runs.
    private static let fingerprintKey = SymmetricKey(size: .bits256)
}

extension JWTConfig {
    /// The signed-token keys of one `[[routes]]` entry that has `jwt_key` or `jwt_public_key_file`. A
    /// relative key file is taken from the config file's directory.
    public static func parse(_ entry: DynamicRouteEntry) throws(ConfigError) -> JWTConfig {
        let reader = entry.reader
        let secret = try reader.string("jwt_key")
        let keyFile = try reader.string("jwt_public_key_file")
        let audience = try reader.string("jwt_audience")
        let key: Key
        switch (secret, keyFile) {
        case (.some, .some):
            throw ConfigError("\(reader.file): \(reader.path): jwt_key and jwt_public_key_file exclude each other (HS256 or ES256)")
        case (.some(let secret), nil):
            key = .hs256(secret: secret)
        case (nil, .some(let file)):
            let path = entry.file(file)
            do {
                key = .es256(try loadPublicKey(file: path), file: path)
            } catch {
                throw entry.error("jwt_public_key_file", error.message)
            }
        case (nil, nil):
            throw ConfigError("\(reader.file): \(reader.path): jwt_key or jwt_public_key_file is required")
        }
        do {
            return try JWTConfig(key: key, audience: audience)
        } catch {
            throw ConfigError("\(reader.file): \(reader.path).\(error.message)")
        }
    }
}

extension DynamicRouteForm {
    /// `jwt_key` (HS256) or `jwt_public_key_file` (ES256): the target travels in a signed token (issue #16, point 4).
    public static let signedToken = DynamicRouteForm(
        selectors: ["jwt_key", "jwt_public_key_file"], options: ["jwt_audience"]
    ) { (entry) throws(ConfigError) -> RouteTarget in
        let config = try JWTConfig.parse(entry)
        return .source(JWTSource(config: config), summary: config.description)
    }
}
