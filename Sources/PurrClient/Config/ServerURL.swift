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

    /// Read by Foundation's `URLComponents` (strictly: a character a URL may not hold is refused, not
    /// encoded). The path and query go on the wire exactly as written: the server's routes match them.
    public init(parsing text: String) throws(ConfigError) {
        let trimmed = text.trimmingASCIIWhitespace()
        let shown = "'\(TargetRedaction.redacting(trimmed, refused: true).printableLine)'"
        guard let components = URLComponents(string: trimmed, encodingInvalidCharacters: false) else {
            throw ConfigError("\(shown): \(Self.whyUnreadable(trimmed))")
        }
        guard let schemeText = components.scheme?.lowercased(), let encodedHost = components.hostAsWritten(in: trimmed) else {
            throw ConfigError("\(shown): \(Self.expected)")
        }
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw ConfigError("\(shown): unsupported scheme '\(schemeText.printableLine)' (expected http, https, ws or wss)")
        }
        guard components.percentEncodedUser == nil, components.percentEncodedPassword == nil else {
            throw ConfigError("\(shown): \(Self.credentials)")
        }
        guard components.percentEncodedFragment == nil else {
            throw ConfigError("\(shown): a server URL has no #fragment (never sent; write a '#' in the path as %23)")
        }
        guard !components.hasUnreadablePort else { throw ConfigError("\(shown): the port must be a number 1-65535") }
        let host = encodedHost.hasPrefix("[") && encodedHost.hasSuffix("]") ? String(encodedHost.dropFirst().dropLast()) : encodedHost
        let hostPort: HostPort
        do {
            hostPort = try HostPort(parsing: HostPort(host: host, port: components.port ?? (scheme.usesTLS ? 443 : 80)).description)
        } catch {
            throw ConfigError("\(shown): \(error.message)")
        }
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        guard HeadValidation.isRequestTarget(path) else { throw ConfigError("\(shown): \(Self.badPath)") }
        guard HeadValidation.isHost(hostPort.host) else { throw ConfigError("\(shown): \(Self.badHost)") }
        self.scheme = scheme
        self.host = hostPort.host
        self.port = hostPort.port
        self.path = path
    }

    static let expected = "expected a URL like http://host:8080/ssh"
    static let credentials = "credentials in a server URL are not supported; use a token"
    static let badPath = "the path has spaces, control characters or characters that must be percent-encoded"
    static let badHost = "the host has characters a host name cannot have"

    /// Why `URLComponents` refused the text: read again leniently (invalid characters encoded) to tell a
    /// bad host or path from a bad port or bracket.
    static func whyUnreadable(_ text: String) -> String {
        guard let lenient = URLComponents(string: text) else {
            return "not a URL: check the port (a number 1-65535) and the brackets around an IPv6 address"
        }
        guard lenient.rangeOfHost != nil else { return expected }
        if lenient.percentEncodedUser != nil || lenient.percentEncodedPassword != nil { return credentials }
        // Not `lenient.host`, which decodes punycode: `xn--bcher-kva` is a good name in a URL with a bad path.
        guard let host = lenient.hostAsWritten(inLenientlyRead: text), URLComponents.isVisibleASCII(host: host) else { return badHost }
        return badPath
    }

    /// This server's URL for another of its resources: `suffix` added to the path (`/ssh` and
    /// `/stats/stream`: `/ssh/stats/stream`), the query replaced by `queryItems`. Nil if the path does not
    /// read as one (a dynamic tunnel's template).
    public func resourceURL(appending suffix: String, queryItems: [URLQueryItem]) -> String? {
        guard let target = RequestTarget(path) else { return nil }
        var components = URLComponents()
        components.scheme = scheme.rawValue
        components.percentEncodedHost = host.contains(":") ? "[\(host)]" : host
        components.port = port
        components.percentEncodedPath = (target.path.hasSuffix("/") ? String(target.path.dropLast()) : target.path) + suffix
        components.queryItems = queryItems.isEmpty ? nil : queryItems
        return components.string
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
