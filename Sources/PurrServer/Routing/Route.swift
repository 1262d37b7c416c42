import PurrCore

/// One route: requests for `path` (and, if set, `host`) are relayed to its target, fixed or chosen per
/// request (issue #16). A dynamic target always comes with an allow list.
public struct Route: Sendable, Equatable {
    /// As configured; a template keeps its captures (`/vnc/{host}/{port}`), and it is the route's name in stats.
    public var path: String
    public var target: RouteTarget
    /// Required bearer token; never logged.
    public var token: String?
    /// If set, the request's Host header (without port) must match, case-insensitively.
    public var host: String?
    /// Connections this route may have open at once (nil: only the server's limit applies).
    public var maxConnections: Int?
    /// What a dynamic target may be; required for one, refused for a fixed one.
    public private(set) var allow: AllowList?
    /// The path's captures, when it is a template.
    public let template: PathTemplate?

    /// A route to one fixed target.
    public init(path: String, target: HostPort, token: String? = nil, host: String? = nil) throws(ConfigError) {
        try self.init(path: path, target: .fixed(target), allow: nil, token: token, host: host)
    }

    /// Any route: a dynamic `target` needs `allow`; a `.template` target needs a template path whose
    /// captures it uses.
    public init(path: String, target: RouteTarget, allow: AllowList?, token: String? = nil, host: String? = nil) throws(ConfigError) {
        guard path.hasPrefix("/") else { throw ConfigError("route path '\(path)' must start with '/'") }
        guard !path.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) else {
            throw ConfigError("route path '\(path)' must not contain spaces, '?' or '#'")
        }
        if let token, token.isEmpty { throw ConfigError("route \(path): the token is empty") }
        let template = try PathTemplate(path)
        switch target {
        case .fixed where allow != nil:
            throw ConfigError("route \(path): an allow list is for dynamic targets (templates, token files, resolvers, signed tokens)")
        case .fixed where template != nil:
            throw ConfigError("route \(path): a path with captures needs a target that uses them, like {host}:{port}")
        case .template where template == nil:
            throw ConfigError("route \(path): a target with captures needs a path that has them, like /vnc/{host}/{port}")
        case _ where target.isDynamic && allow == nil:
            throw ConfigError("route \(path): a dynamic target needs an allow list (allow = [\"10.0.0.0/8:5900-5999\", ...])")
        default:
            break
        }
        self.path = path
        self.target = target
        self.allow = allow
        self.token = token
        self.host = host?.lowercased()
        self.template = template
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

    /// Exact match, or a prefix that ends at a `/` boundary (plain routes only).
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

    /// A refusal when a chosen target is outside the allow list (a fixed route has none and needs none).
    func admit(_ target: HostPort) -> TargetRefusal? {
        guard let allow, !allow.allows(target) else { return nil }
        return .forbiddenTarget(target, route: path)
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
