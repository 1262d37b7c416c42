import NIOCore
import PurrCore

/// One tunnel: a local listener whose connections are relayed through a Purr server URL.
public struct TunnelConfig: Sendable, Equatable {
    public var name: String
    public var url: ServerURL
    public var listen: ListenAddress
    /// Sent as `Authorization: Bearer`; never logged.
    public var token: String?
    /// Extra request headers, for auth proxies in front of the server.
    public var headers: [Header]
    /// An explicit HTTP proxy; nil means the environment decides (`HTTP_PROXY`, `NO_PROXY`).
    public var proxy: ProxySettings?
    /// Ignore the proxy environment even if set (`proxy = "none"`).
    public var noProxy: Bool
    /// How to authenticate to the proxy (`proxy_auth`): the strongest scheme it offers, or a named one.
    public var proxyAuth: ProxyAuthMode = .auto
    public var autostart: Bool
    /// Close a connection with no traffic either way for this many seconds; nil: never.
    public var idleTimeout: Double?
    /// `websocket`: a real WebSocket handshake and binary frames (for browsers' paths, CDNs, inspecting
    /// proxies, websockify), falling back to raw bytes when the server answers with the original Purr 101.
    /// `ws://` and `wss://` URLs imply it.
    public var upgrade: UpgradeProtocol = .purr
    /// WebSocket only: seconds between pings (a missing pong within one interval ends the connection); 0: off.
    public var pingInterval: Double = TunnelConfig.defaultPingInterval
    public static let defaultPingInterval: Double = 25
    /// For https:// URLs: a PEM file of CA certificates trusted besides the system's.
    public var caFile: String?
    /// For https:// URLs: skip certificate verification (warned about at every open).
    public var insecure = false
    /// Send the app's first bytes right behind the upgrade request, once the server has said it keeps
    /// them (`Purr-Early-Data: 1` in its 101): one round trip less per connection. Never to other servers.
    public var earlyData = true
    /// Connections to the server kept ready (connected, through the proxy and TLS) before the app
    /// connects; 0: none. A pooled tunnel runs its connections on one event-loop thread.
    public var pool = 0
    public static let poolRange = 0...64
    /// Seconds a ready connection waits before it is replaced: under the server's timeout for connections
    /// that have sent nothing (purr-server `--silent-timeout`, 60 s by default; 30 s on many web servers).
    public var poolRefresh: Double = TunnelConfig.defaultPoolRefresh
    public static let defaultPoolRefresh: Double = 20
    public static let poolRefreshRange = 1.0...3600

    var poolRefreshAmount: TimeAmount { .nanoseconds(Int64(poolRefresh * 1e9)) }
    /// `fixed`: every connection goes to `url`. Otherwise a dynamic tunnel: the local port speaks SOCKS5,
    /// an HTTP proxy or both, and each request's host and port fill `url`'s `{host}` and `{port}`.
    public var mode: TunnelMode = .fixed
    /// A dynamic tunnel: the targets its requests may name (the server's syntax); nil: any the server allows.
    public var allow: AllowList?
    /// A dynamic tunnel: the username and password its local port asks for; nil: none.
    public var proxyCredentials: ProxyCredentials?
    /// A reverse tunnel: the local service its published connections are relayed to.
    public var target: HostPort?
    /// A reverse tunnel: the server's `[[reverse]]` name; nil: the URL path's last part.
    public var reverseName: String?
    /// A reverse tunnel's held requests when `pool` is 0.
    public static let defaultReversePool = 4
    /// The servers after the first (`url`): tried when it fails (`failover`), or shared (`spread`).
    /// Empty: one server, the path of old.
    public var moreServers: [TunnelServer] = []
    /// How a new connection picks among several servers.
    public var serverChoice: ServerChoice = .failover
    /// The most servers one tunnel may list.
    public static let maxServers = 16

    /// How many servers this tunnel has (1 + `moreServers`).
    public var serverCount: Int { 1 + moreServers.count }

    /// Every server's URL, in the list's order.
    public var serverURLs: [ServerURL] { [url] + moreServers.map(\.url) }

    /// This tunnel as server `index` of its list sees it: that server's URL, token, CA file and proxy
    /// (its own where set, else the tunnel's). Index 0 is the tunnel itself.
    public func forServer(_ index: Int) -> TunnelConfig {
        guard index > 0, index <= moreServers.count else { return self }
        let server = moreServers[index - 1]
        var config = self
        config.moreServers = []
        config.url = server.url
        if let token = server.token { config.token = token }
        if let caFile = server.caFile { config.caFile = caFile }
        if server.noProxy {
            config.noProxy = true
            config.proxy = nil
        } else if let proxy = server.proxy {
            config.noProxy = false
            config.proxy = proxy
        }
        return config
    }

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }

        /// Parses `Name: value`, as given to `-H`.
        public init(parsing text: String) throws(ConfigError) {
            guard let colon = text.firstIndex(of: ":") else {
                throw ConfigError("header '\(text)': expected 'Name: value'")
            }
            try self.init(validating: String(text[..<colon]), value: text[text.index(after: colon)...].trimmingASCIIWhitespace())
        }

        public init(validating name: String, value: String) throws(ConfigError) {
            do { try HeadValidation.checkField(name: name, value: value) } catch { throw ConfigError(error.description) }
            let reserved = ["host", "connection", "upgrade", "purr-request", "purr-version"]
            guard !reserved.contains(name.lowercased()) else {
                throw ConfigError("header '\(name)' is set by Purr itself and cannot be overridden")
            }
            self.name = name
            self.value = value
        }
    }

    public init(
        name: String,
        url: ServerURL,
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 0),
        token: String? = nil,
        headers: [Header] = [],
        proxy: ProxySettings? = nil,
        noProxy: Bool = false,
        autostart: Bool = false,
        idleTimeout: Double? = nil
    ) {
        self.name = name
        self.url = url
        self.listen = listen
        self.token = token
        self.headers = headers
        self.proxy = proxy
        self.noProxy = noProxy
        self.autostart = autostart
        self.idleTimeout = idleTimeout
    }

    /// Checks everything this tunnel would put in a request head (the URL's path and host, the token, the
    /// headers): a bad value is refused here, named, before anything is sent.
    public func validateHead() throws(ConfigError) {
        guard serverCount <= Self.maxServers else { throw ConfigError("at most \(Self.maxServers) servers per tunnel") }
        if mode == .reverse && !moreServers.isEmpty {
            throw ConfigError("a reverse tunnel takes one server URL (several servers are for fixed and dynamic tunnels)")
        }
        for index in 1..<serverCount {
            do { try forServer(index).validateOneHead() } catch {
                throw ConfigError("server \(index + 1) (\(moreServers[index - 1].url.redacted)): \(error.message)")
            }
        }
        try validateOneHead()
    }

    private func validateOneHead() throws(ConfigError) {
        if let token, !HeadValidation.isToken68(token) { throw ConfigError("token: \(HeadValidation.notToken68)") }
        var request = upgradeRequest
        if mode.isDynamic {
            guard url.path.contains("{host}"), url.path.contains("{port}") else {
                throw ConfigError(
                    "a \(mode.rawValue) tunnel's URL needs {host} and {port} in its path, like https://purr.example/t/{host}/{port}")
            }
            request.path = DynamicTarget(host: "example.net", port: 1)!.fill(url.path)
        }
        do { try request.validate() } catch { throw ConfigError(error.description) }
    }

    /// The upgrade request this tunnel sends for each connection.
    public var upgradeRequest: UpgradeRequest {
        UpgradeRequest(
            path: url.path,
            host: url.hostHeader,
            upgrade: effectiveUpgrade,
            token: token,
            extraHeaders: headers.map { ($0.name, $0.value) }
        )
    }

    /// What the tunnel sends: `ws://` and `wss://` URLs always speak WebSocket.
    public var effectiveUpgrade: UpgradeProtocol { url.scheme.isWebSocket ? .websocket : upgrade }

    /// The proxy to use: the tunnel's own, else the environment's (unless disabled).
    public func effectiveProxy(environment: [String: String]) throws(ConfigError) -> ProxySettings? {
        if noProxy { return nil }
        if let proxy { return proxy }
        return try ProxySettings.fromEnvironment(for: url, environment: environment)
    }
}
