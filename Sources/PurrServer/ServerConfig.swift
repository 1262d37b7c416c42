import Logging
import PurrCore

/// Everything `purr-server` needs to run; built from `server.toml`, then overridden by flags.
public struct ServerConfig: Sendable {
    public static let defaultListen = HostPort(host: "127.0.0.1", port: 8080)

    public var listen = ServerConfig.defaultListen
    public var routes: [Route] = []
    /// Seconds from a connection's first byte to the end of its request head (408 beyond).
    public var headerTimeout: Double = 10
    /// Seconds a connection that has sent nothing yet may wait (a client's warm pool); closed without an
    /// answer beyond, counted as `silent_timeout`. The header timeout starts at the first byte.
    public var silentTimeout: Double = 60
    public var drainTimeout: Double = 10
    /// Seconds in `Retry-After` on the 503s a draining server answers (upgrades and `/healthz`).
    public var retryAfter = 2
    /// Connections open at once, in any state; more are answered 503.
    public var maxConnections = 4096
    /// Connections from one peer address still silent or sending their request head; more are
    /// answered 503 (`peer_limit`). 0: no limit.
    public var maxConnectionsPerPeer = 64
    /// Close a relay with no bytes either way for this long; 0 means never (keepalive finds dead peers).
    public var idleTimeout: Double = 0
    /// Event-loop threads (each accepts on its own listener and serves its connections); nil: one per core.
    public var threads: Int?
    /// The largest request head accepted (431 beyond).
    public var maxHeadSize = PurrWire.maxHeadSize
    /// The largest WebSocket frame or message a client may send; beyond it the connection closes with 1009.
    public var webSocketMaxMessage = 1 << 20
    /// Browser origins (`http://host:port`, or `*`) whose WebSocket requests are accepted. A browser always
    /// sends `Origin`; other clients do not and are not affected. Empty: no browser page gets in.
    public var webSocketOrigins: [String] = []
    /// PEM certificate chain and key: the server speaks TLS itself (reloaded on SIGHUP).
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var logLevel: Logger.Level = .info
    /// On a reload, close live relays whose route was removed or got another target or token.
    public var dropRemoved = false
    /// Admin endpoint; nil when not asked for.
    public var admin: AdminConfig?
    /// The `[admin]` table as written; flags and the environment complete it into `admin`.
    public var adminFile = AdminFileSettings()
    /// `[[reverse]]` entries: services on exposing clients' side, published here (docs/reverse-tunnels.md).
    public var reverses: [ReverseEntry] = []

    public init() {}

    public static let connectionLimitRange = 1...1_000_000
    public static let peerLimitRange = 0...1_000_000
    public static let threadRange = EventLoopThreads.range
    public static let headSizeRange = 1024...(1 << 20)
    public static let webSocketMessageRange = 125...(64 << 20)
    public static let retryAfterRange = 0...3600

    /// `/healthz` is the health check on the upgrade listener: no route or `[[reverse]]` path may take it.
    public func checkReservedPaths() throws(ConfigError) {
        if let route = routes.first(where: { $0.path == HealthCheck.path }) {
            throw ConfigError("route \(route.path): \(HealthCheck.path) is reserved for the health check (GET /healthz)")
        }
        if let entry = reverses.first(where: { $0.path == HealthCheck.path }) {
            throw ConfigError("reverse \(entry.name).path: \(HealthCheck.path) is reserved for the health check (GET /healthz)")
        }
    }

    /// Adds routes, replacing any with the same path and host (flags override the file).
    public mutating func merge(routes extra: [Route]) {
        for route in extra {
            routes.removeAll { $0.path == route.path && $0.host == route.host }
            routes.append(route)
        }
    }
}

/// Where and how the admin endpoint listens.
public struct AdminConfig: Sendable {
    public var listen: HostPort
    /// Required as `Authorization: Bearer`; never logged.
    public var token: String?
    /// A stream viewer whose unsent backlog passes this many bytes is dropped.
    public var viewerBacklogLimit = 1 << 20
    /// HTTPS with the server's certificate (needs tls_cert and tls_key).
    public var tls = false
    /// Seconds an admin connection may wait without sending a request (stream viewers excepted).
    public var idleTimeout: Double = 30
    /// Admin connections open at once; more are closed as they arrive.
    public var maxConnections = 64

    public static let idleTimeoutRange = 0.1...3600.0
    public static let maxConnectionsRange = 1...10_000

    public init(listen: HostPort, token: String? = nil) {
        self.listen = listen
        self.token = token
    }

    /// A non-loopback admin address without a token would publish every connection's peer and route.
    public func validate() throws(ConfigError) {
        if !listen.isLoopback && token == nil {
            throw ConfigError(
                "admin endpoint on non-loopback address \(listen.host) needs a token (--admin-token, admin.token or PURR_ADMIN_TOKEN)")
        }
        if let token, token.isEmpty { throw ConfigError("the admin token is empty") }
        // A token no client can send (a space, a control) would lock every viewer out.
        if let token, !HeadValidation.isToken68(token) { throw ConfigError("the admin token is not a valid token (token68)") }
    }
}

extension ServerConfig {
    /// Loads `server.toml`; every error names the file and the key or line.
    public static func load(file: String) throws(ConfigError) -> ServerConfig {
        let toml = try TOMLReader.load(file: file)
        try toml.checkKeys([
            "listen", "header_timeout", "silent_timeout", "drain_timeout", "log_level", "routes", "admin", "max_connections",
            "max_connections_per_peer",
            "idle_timeout", "max_head_size",
            "tls_cert", "tls_key", "drop_removed", "ws_max_message", "ws_origins", "reverse", "retry_after", "threads",
        ])
        var config = ServerConfig()
        if let listen = try toml.string("listen") {
            config.listen = try toml.wrap("listen") { () throws(ConfigError) in try HostPort(parsing: listen, allowZeroPort: true) }
        }
        if let value = try toml.seconds("header_timeout", range: 0.1...3600) { config.headerTimeout = value }
        if let value = try toml.seconds("silent_timeout", range: 0.1...86_400) { config.silentTimeout = value }
        if let value = try toml.seconds("drain_timeout", range: 0...3600) { config.drainTimeout = value }
        if let value = try toml.int("retry_after", range: Self.retryAfterRange) { config.retryAfter = value }
        if let value = try toml.int("max_connections", range: Self.connectionLimitRange) { config.maxConnections = value }
        if let value = try toml.int("max_connections_per_peer", range: Self.peerLimitRange) { config.maxConnectionsPerPeer = value }
        if let value = try toml.seconds("idle_timeout", range: 0...604_800) { config.idleTimeout = value }
        if let value = try toml.int("threads", range: Self.threadRange) { config.threads = value }
        if let value = try toml.int("max_head_size", range: Self.headSizeRange) { config.maxHeadSize = value }
        if let value = try toml.int("ws_max_message", range: Self.webSocketMessageRange) { config.webSocketMaxMessage = value }
        config.webSocketOrigins = try toml.stringArray("ws_origins")
        config.tlsCertificate = try toml.string("tls_cert")
        config.tlsKey = try toml.string("tls_key")
        config.dropRemoved = try toml.bool("drop_removed") ?? false
        if let level = try toml.string("log_level") {
            config.logLevel = try toml.wrap("log_level") { () throws(ConfigError) in try Logger.Level(parsing: level) }
        }
        var seen: Set<String> = []
        for entry in try toml.tables("routes") {
            let route = try Self.route(from: entry)
            let key = "\(route.host ?? "*") \(route.path)"
            guard seen.insert(key).inserted else {
                throw ConfigError("\(file): \(entry.path): a route for path '\(route.path)' is already defined")
            }
            config.routes.append(route)
        }
        try config.loadReverses(from: toml)
        do {
            try config.checkReservedPaths()
        } catch {
            throw error.located(file)
        }
        if let admin = try toml.table("admin") {
            try admin.checkKeys(["port", "host", "token", "tls", "idle_timeout", "max_connections"])
            config.adminFile = AdminFileSettings(
                port: try admin.int("port", range: 0...65535),
                host: try admin.string("host"),
                token: try admin.string("token"),
                tls: try admin.bool("tls") ?? false
            )
            config.adminFile.idleTimeout = try admin.seconds("idle_timeout", range: AdminConfig.idleTimeoutRange)
            config.adminFile.maxConnections = try admin.int("max_connections", range: AdminConfig.maxConnectionsRange)
        }
        // Warned only for a file that is valid (an error is the one line to read first).
        SecretFileCheck.warn(toml, program: "purr-server")
        return config
    }
}

/// `[admin]` in server.toml, before flags and the environment are applied.
public struct AdminFileSettings: Sendable, Equatable {
    public var port: Int?
    public var host: String?
    public var token: String?
    /// Serve the admin endpoint over TLS with the server's certificate.
    public var tls: Bool
    public var idleTimeout: Double?
    public var maxConnections: Int?

    public init(port: Int? = nil, host: String? = nil, token: String? = nil, tls: Bool = false) {
        self.port = port
        self.host = host
        self.token = token
        self.tls = tls
    }
}
