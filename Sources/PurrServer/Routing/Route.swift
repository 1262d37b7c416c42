import PurrCore

/// One route: requests for `path` (and, if set, `host`) are relayed to `target`.
public struct Route: Sendable, Equatable {
    public var path: String
    public var target: HostPort
    /// Required bearer token; never logged.
    public var token: String?
    /// If set, the request's Host header (without port) must match, case-insensitively.
    public var host: String?
    /// Connections this route may have open at once (nil: only the server's limit applies).
    public var maxConnections: Int?

    public init(path: String, target: HostPort, token: String? = nil, host: String? = nil) throws(ConfigError) {
        guard path.hasPrefix("/") else { throw ConfigError("route path '\(path)' must start with '/'") }
        guard !path.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) else {
            throw ConfigError("route path '\(path)' must not contain spaces, '?' or '#'")
        }
        if let token, token.isEmpty { throw ConfigError("route \(path): the token is empty") }
        self.path = path
        self.target = target
        self.token = token
        self.host = host?.lowercased()
    }

    /// Parses a `--route PATH=HOST:PORT` flag.
    public init(flag: String) throws(ConfigError) {
        guard let eq = flag.firstIndex(of: "=") else {
            throw ConfigError("--route '\(flag)': expected PATH=HOST:PORT")
        }
        let path = String(flag[..<eq])
        do {
            try self.init(path: path, target: try HostPort(parsing: String(flag[flag.index(after: eq)...])))
        } catch {
            throw error.located("--route")
        }
    }

    /// Exact match, or a prefix that ends at a `/` boundary.
    func matches(path requestPath: String) -> Bool {
        if requestPath == path { return true }
        guard requestPath.hasPrefix(path) else { return false }
        if path.hasSuffix("/") { return true }
        return requestPath.dropFirst(path.count).first == "/"
    }

    func matches(host requestHost: String?) -> Bool {
        guard let host else { return true }
        guard let requestHost else { return false }
        return Self.stripPort(requestHost).lowercased() == host
    }

    static func stripPort(_ hostHeader: String) -> Substring {
        if hostHeader.hasPrefix("["), let close = hostHeader.firstIndex(of: "]") {
            return hostHeader[hostHeader.index(after: hostHeader.startIndex)..<close]
        }
        if let colon = hostHeader.lastIndex(of: ":"), hostHeader.firstIndex(of: ":") == colon {
            return hostHeader[..<colon]
        }
        return Substring(hostHeader)
    }
}
