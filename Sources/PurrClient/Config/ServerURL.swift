import Foundation
import PurrCore

/// A Purr server URL: `http://host:port/path`, or `ws://` / `wss://` for a real WebSocket.
public struct ServerURL: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable {
        case http, https, ws, wss

        /// https and wss: TLS to the server.
        public var usesTLS: Bool { self == .https || self == .wss }
        /// ws and wss: a real WebSocket handshake and frames.
        public var isWebSocket: Bool { self == .ws || self == .wss }
    }

    public var scheme: Scheme
    public var host: String
    public var port: Int
    /// The request target, with any query.
    public var path: String

    public init(parsing text: String) throws(ConfigError) {
        let trimmed = Self.maskingUserInfo(text.trimmingASCIIWhitespace())
        guard let sep = trimmed.range(of: "://") else {
            throw ConfigError("'\(trimmed)': expected a URL like http://host:8080/ssh")
        }
        let schemeText = trimmed[..<sep.lowerBound].lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw ConfigError("'\(trimmed)': unsupported scheme '\(schemeText)' (expected http, https, ws or wss)")
        }
        let rest = trimmed[sep.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        guard !authority.contains("@") else {
            throw ConfigError("'\(trimmed)': credentials in a server URL are not supported; use a token")
        }
        let defaultPort = scheme.usesTLS ? 443 : 80
        let hostPort: HostPort
        do {
            let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
            hostPort = try HostPort(parsing: hasPort ? authority : "\(authority):\(defaultPort)")
        } catch {
            throw ConfigError("'\(trimmed)': \(error.message)")
        }
        var path = String(rest[authorityEnd...])
        if path.isEmpty { path = "/" }
        if path.hasPrefix("?") { path = "/" + path }
        guard HeadValidation.isRequestTarget(path) else {
            throw ConfigError(
                "'\(trimmed.printableLine)': the path has spaces, control characters or characters that must be percent-encoded")
        }
        guard HeadValidation.isHost(hostPort.host) else {
            throw ConfigError("'\(trimmed.printableLine)': the host has characters a host name cannot have")
        }
        self.scheme = scheme
        self.host = hostPort.host
        self.port = hostPort.port
        self.path = path
    }

    /// The text with any `user:password@` before the host shown as `***@`: a refused URL's error line
    /// must not print a password.
    static func maskingUserInfo(_ text: String) -> String {
        guard let sep = text.range(of: "://") else { return text }
        let rest = text[sep.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return text }
        return String(text[..<sep.upperBound]) + "***" + String(rest[at...])
    }

    /// The `Host` header: the port is left out when it is the scheme's default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme.usesTLS ? 443 : 80
        return port == defaultPort ? name : "\(name):\(port)"
    }

    public var endpoint: HostPort { HostPort(host: host, port: port) }

    public var description: String { "\(scheme.rawValue)://\(hostHeader)\(path)" }

    /// For logs and screens: every query value hidden (`TargetRedaction`).
    public var redacted: String { description.redactingQuery }
}
