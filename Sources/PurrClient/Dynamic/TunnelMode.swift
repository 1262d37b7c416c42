import PurrCore

/// What a tunnel's local port speaks: raw bytes for one fixed URL, or a proxy protocol whose every
/// request names a target that fills the tunnel's URL template (a dynamic tunnel).
public enum TunnelMode: String, Sendable, Equatable, CaseIterable {
    /// Every connection goes to the tunnel's one URL.
    case fixed
    /// SOCKS5 (RFC 1928), and SOCKS4/4a.
    case socks5
    /// An HTTP proxy: `CONNECT host:port`, and plain requests in absolute form.
    case httpProxy = "http-proxy"
    /// Both on one port, told apart by the first byte.
    case proxy
    /// No local port: `url` is a server's `[[reverse]]` path; held requests wait there and each one the
    /// server answers is relayed to the tunnel's `target` (a reverse tunnel, `purr expose`).
    case reverse

    public var isDynamic: Bool { self == .socks5 || self == .httpProxy || self == .proxy }

    /// Whether a connection starting with this protocol is served.
    func serves(_ kind: ProxyFront.Kind) -> Bool {
        switch (self, kind) {
        case (.proxy, _): return true
        case (.socks5, .socks5), (.socks5, .socks4): return true
        case (.httpProxy, .http): return true
        default: return false
        }
    }

    public init(parsing text: String) throws(ConfigError) {
        guard let mode = TunnelMode(rawValue: text) else {
            throw ConfigError("'\(text.printableLine)' is not fixed, socks5, http-proxy, proxy or reverse")
        }
        self = mode
    }
}
