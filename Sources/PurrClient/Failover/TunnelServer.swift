import PurrCore

/// One server of a tunnel's list after the first (`url = [...]` in tunnels.toml, `purr connect URL URL...`):
/// its URL and the settings it does not share with the tunnel. nil: the tunnel's own.
public struct TunnelServer: Sendable, Equatable {
    public var url: ServerURL
    /// Sent as `Authorization: Bearer`; nil: the tunnel's token.
    public var token: String?
    /// For https:// URLs: a PEM file of CA certificates; nil: the tunnel's.
    public var caFile: String?
    /// An explicit HTTP proxy for this server; nil: the tunnel's (or the environment's).
    public var proxy: ProxySettings?
    /// `proxy = "none"` for this server only.
    public var noProxy = false

    public init(url: ServerURL, token: String? = nil, caFile: String? = nil, proxy: ProxySettings? = nil, noProxy: Bool = false) {
        self.url = url
        self.token = token
        self.caFile = caFile
        self.proxy = proxy
        self.noProxy = noProxy
    }

    /// Whether it has a setting of its own (then tunnels.toml writes it as an inline table).
    var hasOwnSettings: Bool { token != nil || caFile != nil || proxy != nil || noProxy }
}

/// How a tunnel with several servers chooses one for a new connection (`servers = ...`, `--servers`).
public enum ServerChoice: String, Sendable, Equatable, CaseIterable {
    /// The first healthy server in the list's order; the others only when it fails.
    case failover
    /// The healthy server with the fewest active connections; ties by the clearly lower recent connect
    /// time, then in turn.
    case spread

    public init(parsing text: String) throws(ConfigError) {
        guard let choice = ServerChoice(rawValue: text) else {
            throw ConfigError("'\(text.printableLine)' is not failover or spread")
        }
        self = choice
    }
}
