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

    /// The CONNECT request for `target`, with the URL's Basic credentials if any.
    public func connectHead(to target: HostPort) -> HTTPRequestHead {
        connectHead(to: target, authorization: authorization)
    }

    /// The CONNECT request for `target` with a `Proxy-Authorization` value (nil: none).
    public func connectHead(to target: HostPort, authorization: String?) -> HTTPRequestHead {
        var headers = HTTPHeaders([("Host", target.description)])
        if let authorization { headers.add(name: "Proxy-Authorization", value: authorization) }
        return HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: target.description, headers: headers)
    }

    /// The CONNECT request for `target` as it goes on the wire: the proxy's answer is read raw (see
    /// `ClientHandshakeStateMachine`). The target is a parsed host and port; an authorization value that
    /// could end the line (an authenticator's bug) is not sent: nil is returned.
    public func connectRequest(to target: HostPort, authorization: String?) -> String? {
        if let authorization, authorization.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return nil }
        let head = connectHead(to: target, authorization: authorization)
        let fields = head.headers.map { "\($0.name): \($0.value)\r\n" }.joined()
        return "CONNECT \(head.uri) HTTP/1.1\r\n\(fields)\r\n"
    }

    /// The CONNECT request for `target` with the URL's Basic credentials, as it goes on the wire.
    public func connectRequest(to target: HostPort) -> String {
        connectRequest(to: target, authorization: authorization) ?? ""
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
