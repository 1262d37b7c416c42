import Foundation
import NIOSSL
import PurrCore

/// A route's resolver service (`resolver = "http://127.0.0.1:9000/purr/resolve"` and its `resolver_*` keys),
/// checked when the configuration is loaded, so a running server never meets a bad URL or CA file.
public struct ResolverConfig: Sendable {
    public static let defaultTimeout = 2.0
    public static let timeoutRange = 0.1...60.0

    /// The POST target, `http://` or `https://`.
    public let url: String
    /// Sent to the resolver as `Authorization: Bearer`; never logged.
    public let token: String?
    /// Seconds the whole exchange may take (connect, request, answer) before the client gets 504.
    public let timeout: Double
    /// Request headers copied into the document, as named here.
    public let headers: [String]
    /// A private CA for an https resolver, besides the system's roots.
    public let caFile: String?
    /// The TLS settings for an https resolver; nil for http.
    let tls: TLSConfiguration?

    public init(url: String, token: String? = nil, timeout: Double = defaultTimeout, headers: [String] = [], caFile: String? = nil)
        throws(ConfigError)
    {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw ConfigError("'\(url)': expected an http:// or https:// URL")
        }
        guard let host = parsed.host, !host.isEmpty else { throw ConfigError("'\(url)': the URL has no host") }
        if let port = parsed.port, !(1...65535).contains(port) { throw ConfigError("'\(url)': the port must be a number 1-65535") }
        guard parsed.user == nil, parsed.password == nil else {
            throw ConfigError("'\(url)': put the resolver's credentials in resolver_token, not in the URL")
        }
        if let token, token.isEmpty { throw ConfigError("resolver_token is empty") }
        guard Self.timeoutRange.contains(timeout) else {
            throw ConfigError(
                "resolver_timeout \(timeout) is out of range \(Self.timeoutRange.lowerBound)...\(Self.timeoutRange.upperBound)")
        }
        for name in headers where !Self.isHeaderName(name) {
            throw ConfigError("resolver_headers: '\(name)' is not a header name")
        }
        if caFile != nil && scheme != "https" { throw ConfigError("resolver_ca_file is only for an https:// resolver") }
        self.url = url
        self.token = token
        self.timeout = timeout
        self.headers = headers
        self.caFile = caFile
        self.tls = scheme == "https" ? try ClientTLS.makeConfiguration(caFile: caFile, insecure: false) : nil
    }

    /// RFC 9110 token characters.
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }
}

extension ResolverConfig: Equatable {
    public static func == (lhs: ResolverConfig, rhs: ResolverConfig) -> Bool {
        lhs.url == rhs.url && lhs.token == rhs.token && lhs.timeout == rhs.timeout && lhs.headers == rhs.headers && lhs.caFile == rhs.caFile
    }
}

extension ResolverConfig: CustomStringConvertible {
    /// Safe to log: no token.
    public var description: String { "resolver \(url)" }
}

extension ResolverConfig {
    /// The resolver keys of one `[[routes]]` entry that has `resolver`. A relative `resolver_ca_file` is
    /// taken from the config file's directory.
    public static func parse(_ entry: DynamicRouteEntry) throws(ConfigError) -> ResolverConfig {
        let reader = entry.reader
        let url = try reader.requiredString("resolver")
        let token = try reader.string("resolver_token")
        let timeout = try reader.seconds("resolver_timeout", range: timeoutRange) ?? defaultTimeout
        let headers = try reader.stringArray("resolver_headers")
        let caFile = try reader.string("resolver_ca_file").map(entry.file)
        do {
            return try ResolverConfig(url: url, token: token, timeout: timeout, headers: headers, caFile: caFile)
        } catch {
            throw entry.error("resolver", error.message)
        }
    }
}

extension DynamicRouteForm {
    /// `resolver = "http://..."`: a resolver service picks each request's target (issue #16, point 3).
    public static let resolver = DynamicRouteForm(
        selectors: ["resolver"], options: ["resolver_token", "resolver_timeout", "resolver_headers", "resolver_ca_file"]
    ) { (entry) throws(ConfigError) -> RouteTarget in
        let config = try ResolverConfig.parse(entry)
        return .source(ResolverSource(config: config), summary: config.description)
    }
}
