import Foundation
import NIOHTTP1
import PurrCore

/// An HTTP proxy reached with CONNECT, with optional basic auth from the URL's user info.
public struct ProxySettings: Sendable, Equatable, CustomStringConvertible {
    public var endpoint: HostPort
    public var username: String?
    public var password: String?

    public init(parsing text: String) throws(ConfigError) {
        var rest = text.trimmingASCIIWhitespace()
        if let sep = rest.range(of: "://") {
            let scheme = rest[..<sep.lowerBound].lowercased()
            guard scheme == "http" else {
                throw ConfigError("proxy '\(Self.redacted(text))': unsupported scheme '\(scheme)' (expected http)")
            }
            rest = String(rest[sep.upperBound...])
        }
        if let slash = rest.firstIndex(of: "/") { rest = String(rest[..<slash]) }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = String(rest[rest.index(after: at)...])
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            username = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            password = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : nil
        }
        if !rest.contains(":") || rest.hasSuffix("]") { rest += ":3128" }
        do {
            endpoint = try HostPort(parsing: rest)
        } catch {
            throw ConfigError("proxy '\(Self.redacted(text))': \(error.message)")
        }
    }

    /// The `Proxy-Authorization` value, if the URL carried credentials.
    public var authorization: String? {
        guard let username else { return nil }
        let credentials = "\(username):\(password ?? "")"
        return "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    /// The CONNECT request for `target`.
    public func connectHead(to target: HostPort) -> HTTPRequestHead {
        var headers = HTTPHeaders([("Host", target.description)])
        if let authorization { headers.add(name: "Proxy-Authorization", value: authorization) }
        return HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: target.description, headers: headers)
    }

    /// The CONNECT request for `target` as it goes on the wire. It is written past NIOHTTP1's encoder:
    /// the proxy's answer is not the upgrade's HTTP (see `ProxyTunnelHandler`). Every byte is safe by
    /// construction: the target is a parsed host and port, the credentials are base64.
    public func connectRequest(to target: HostPort) -> String {
        let head = connectHead(to: target)
        let fields = head.headers.map { "\($0.name): \($0.value)\r\n" }.joined()
        return "CONNECT \(head.uri) HTTP/1.1\r\n\(fields)\r\n"
    }

    /// The full URL, password included: only for writing the config file back.
    public var urlString: String {
        guard let username else { return "http://\(endpoint)" }
        let allowed = CharacterSet.urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@"))
        let user = username.addingPercentEncoding(withAllowedCharacters: allowed) ?? username
        let secret = password.map { ":" + ($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0) } ?? ""
        return "http://\(user)\(secret)@\(endpoint)"
    }

    /// The proxy without its password, for logs and errors.
    public var description: String {
        username.map { "http://\($0):***@\(endpoint)" } ?? "http://\(endpoint)"
    }

    static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let start = text.range(of: "://")?.upperBound ?? text.startIndex
        return String(text[..<start]) + "***" + String(text[at...])
    }

    /// The proxy the environment asks for, for a server URL: `HTTPS_PROXY`/`HTTP_PROXY` (either case),
    /// unless `NO_PROXY` lists the host.
    public static func fromEnvironment(for url: ServerURL, environment: [String: String]) throws(ConfigError) -> ProxySettings? {
        func value(_ name: String) -> String? {
            (environment[name.lowercased()] ?? environment[name.uppercased()]).flatMap { $0.isEmpty ? nil : $0 }
        }
        let proxy = url.scheme.usesTLS ? value("https_proxy") : value("http_proxy")
        guard let proxy else { return nil }
        if let noProxy = value("no_proxy"), Self.bypasses(host: url.host, port: url.port, noProxy: noProxy) { return nil }
        do {
            return try ProxySettings(parsing: proxy)
        } catch {
            throw error.located(url.scheme.usesTLS ? "HTTPS_PROXY" : "HTTP_PROXY")
        }
    }

    /// `NO_PROXY` matching as curl does: `*`, exact names, domain suffixes (`.example.com` or `example.com`), `host:port`.
    public static func bypasses(host: String, port: Int, noProxy: String) -> Bool {
        let host = host.lowercased()
        for raw in noProxy.split(separator: ",") {
            var entry = raw.trimmingASCIIWhitespace().lowercased()
            if entry.isEmpty { continue }
            if entry == "*" { return true }
            if let colon = entry.lastIndex(of: ":"), !entry.hasSuffix("]"), entry.firstIndex(of: ":") == colon {
                guard Int(entry[entry.index(after: colon)...]) == port else { continue }
                entry = String(entry[..<colon])
            }
            entry = entry.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if entry.hasPrefix(".") { entry.removeFirst() }
            if host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }
}
