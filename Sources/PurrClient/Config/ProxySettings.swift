import Foundation
import NIOHTTP1
import PurrCore

/// An HTTP proxy reached with CONNECT, with optional basic auth from the URL's user info.
public struct ProxySettings: Sendable, Equatable, CustomStringConvertible {
    public var endpoint: HostPort
    public var username: String?
    public var password: String?

    /// `http://user:pass@host:port`, read by `URLComponents`; the scheme may be left out (`proxy:3128`),
    /// the port defaults to 3128. Credentials are percent-decoded; characters a URL may not hold (`p@ss`)
    /// are taken as written, as curl does.
    public init(parsing text: String) throws(ConfigError) {
        let trimmed = text.trimmingASCIIWhitespace()
        let shown = "proxy '\(TargetRedaction.redacting(trimmed, refused: true).printableLine)'"
        // No scheme (`proxy:3128`, `10.0.0.1:3128`, `user:pass@proxy`, `[::1]`): http, as curl reads it.
        let input = trimmed.contains("://") ? trimmed : "http://" + trimmed
        guard let components = URLComponents(string: input), components.rangeOfHost != nil else {
            throw ConfigError("\(shown): expected http://[user:password@]host[:port]")
        }
        let scheme = components.scheme?.lowercased() ?? ""
        guard scheme == "http" else {
            throw ConfigError("\(shown): unsupported scheme '\(scheme.printableLine)' (expected http)")
        }
        guard components.percentEncodedPath.isEmpty || components.percentEncodedPath == "/", components.percentEncodedQuery == nil,
            components.percentEncodedFragment == nil
        else {
            throw ConfigError("\(shown): a proxy is http://[user:password@]host[:port], without a path")
        }
        // The host as written (punycode kept: `components.host` decodes it); nil if the lenient reading
        // changed it (a Unicode name is written as punycode there).
        guard let encodedHost = components.hostAsWritten(inLenientlyRead: input), URLComponents.isVisibleASCII(host: encodedHost) else {
            throw ConfigError("\(shown): the host has characters a host name cannot have")
        }
        guard !components.hasUnreadablePort else { throw ConfigError("\(shown): the port must be a number 1-65535") }
        let host = encodedHost.hasPrefix("[") && encodedHost.hasSuffix("]") ? String(encodedHost.dropFirst().dropLast()) : encodedHost
        do {
            endpoint = try HostPort(parsing: HostPort(host: host, port: components.port ?? 3128).description)
        } catch {
            throw ConfigError("\(shown): \(error.message)")
        }
        username = components.user
        password = components.password
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
