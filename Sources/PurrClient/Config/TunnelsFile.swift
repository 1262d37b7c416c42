import Foundation
import PurrCore

/// `tunnels.toml`: the tunnels, the servers whose admin streams the TUI watches, and UI settings.
public struct TunnelsFile: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public var name: String
        public var adminURL: String
        public var token: String?
        /// For https:// admin URLs: a PEM file of CA certificates trusted besides the system's.
        public var caFile: String?
        /// For https:// admin URLs: skip certificate verification.
        public var insecure: Bool

        public init(name: String, adminURL: String, token: String? = nil, caFile: String? = nil, insecure: Bool = false) {
            self.name = name
            self.adminURL = adminURL
            self.token = token
            self.caFile = caFile
            self.insecure = insecure
        }
    }

    /// `[browser]`: which web pages may open tunnels through the browser extension.
    public struct Browser: Sendable, Equatable {
        public var allowedOrigins: [OriginPattern]
        /// Serve messages that carry no origin: the original Manifest V2 extension never sent one (off:
        /// such messages are refused, since anything could have sent them).
        public var legacyExtension: Bool

        public init(allowedOrigins: [OriginPattern] = [], legacyExtension: Bool = false) {
            self.allowedOrigins = allowedOrigins
            self.legacyExtension = legacyExtension
        }
    }

    public var tunnels: [TunnelConfig] = []
    public var servers: [Server] = []
    public var theme: String?
    public var browser = Browser()

    public init(tunnels: [TunnelConfig] = [], servers: [Server] = [], theme: String? = nil, browser: Browser = Browser()) {
        self.tunnels = tunnels
        self.servers = servers
        self.theme = theme
        self.browser = browser
    }

    /// `$XDG_CONFIG_HOME/purr`, or `~/.config/purr`: where the client's files live.
    public static func configDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { return "\(xdg)/purr" }
        return "\(environment["HOME"] ?? NSHomeDirectory())/.config/purr"
    }

    /// `$XDG_CONFIG_HOME/purr/tunnels.toml`, or `~/.config/purr/tunnels.toml`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        "\(configDirectory(environment: environment))/tunnels.toml"
    }

    /// Whether the file holds credentials (a token, headers for an auth proxy, a proxy password): then it
    /// should be private.
    public var holdsSecrets: Bool {
        tunnels.contains { tunnel in
            tunnel.token != nil || !tunnel.headers.isEmpty || tunnel.proxy?.password != nil
                || tunnel.moreServers.contains { $0.token != nil || $0.proxy?.password != nil }
        } || servers.contains { $0.token != nil }
    }

    public static func load(file: String) throws(ConfigError) -> TunnelsFile {
        try parse(TOMLReader.load(file: file))
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> TunnelsFile {
        try parse(TOMLReader.parse(text, file: file))
    }

    static func parse(_ toml: TOMLReader) throws(ConfigError) -> TunnelsFile {
        try toml.checkKeys(["tunnels", "servers", "theme", "browser"])
        var result = TunnelsFile()
        result.theme = try toml.string("theme")
        if let browser = try toml.table("browser") {
            try browser.checkKeys(["allowed_origins", "legacy_extension"])
            result.browser.legacyExtension = try browser.bool("legacy_extension") ?? false
            for (index, text) in try browser.stringArray("allowed_origins").enumerated() {
                let pattern = try browser.wrap("allowed_origins[\(index)]") { () throws(ConfigError) in try OriginPattern(parsing: text) }
                result.browser.allowedOrigins.append(pattern)
            }
        }
        var names: Set<String> = []
        for entry in try toml.tables("tunnels") {
            try entry.checkKeys([
                "name", "url", "listen", "token", "headers", "proxy", "autostart", "idle_timeout", "upgrade", "ca_file", "insecure",
                "ping_interval",

                "early_data", "pool", "pool_refresh", "mode", "allow", "proxy_user", "proxy_password", "proxy_auth", "target",
                "reverse_name", "servers",
            ])
            let name = try entry.requiredString("name")
            guard !name.isEmpty, name.count <= 100, !name.unicodeScalars.contains(where: { $0.value < 32 || $0.value == 127 }) else {
                throw ConfigError("\(toml.file): \(entry.path).name: must be one line of 1 to 100 printable characters")
            }
            guard names.insert(name).inserted else {
                throw ConfigError("\(toml.file): \(entry.path).name: a tunnel named '\(name)' is already defined")
            }
            let modeText = try entry.string("mode") ?? "fixed"
            let mode = try entry.wrap("mode") { () throws(ConfigError) in try TunnelMode(parsing: modeText) }
            let listed = try ServerList.read(entry, dynamic: mode.isDynamic)
            let url = listed.first.url
            let listenText = try entry.string("listen") ?? "127.0.0.1:0"
            let listen = try entry.wrap("listen") { () throws(ConfigError) in try ListenAddress(parsing: listenText) }
            var headers: [TunnelConfig.Header] = []
            for (headerName, value) in try entry.stringTable("headers") ?? [] {
                headers.append(
                    try entry.wrap("headers") { () throws(ConfigError) in try TunnelConfig.Header(validating: headerName, value: value) })
            }
            var proxy: ProxySettings?
            var noProxy = false
            if let proxyText = try entry.string("proxy") {
                if proxyText == "none" || proxyText.isEmpty {
                    noProxy = true
                } else {
                    proxy = try entry.wrap("proxy") { () throws(ConfigError) in try ProxySettings(parsing: proxyText) }
                }
            }
            var upgrade = UpgradeProtocol.purr
            if let upgradeText = try entry.string("upgrade") {
                guard let parsed = UpgradeProtocol(rawValue: upgradeText) else {
                    throw ConfigError("\(toml.file): \(entry.path).upgrade: '\(upgradeText)' is not purr or websocket")
                }
                upgrade = parsed
            }
            let token = try entry.string("token")
            if let token, token.isEmpty { throw ConfigError("\(toml.file): \(entry.path).token: is empty") }
            if let token, !HeadValidation.isToken68(token) {
                throw ConfigError("\(toml.file): tunnel \"\(name)\": token: \(HeadValidation.notToken68)")
            }
            var tunnel =
                TunnelConfig(
                    name: name,
                    url: url,
                    listen: listen,
                    token: token,
                    headers: headers,
                    proxy: proxy,
                    noProxy: noProxy,
                    autostart: try entry.bool("autostart") ?? false,
                    idleTimeout: try entry.seconds("idle_timeout", range: 1...604_800)
                )
            tunnel.upgrade = upgrade
            if let authText = try entry.string("proxy_auth") {
                tunnel.proxyAuth = try entry.wrap("proxy_auth") { () throws(ConfigError) in try ProxyAuthMode(parsing: authText) }
            }
            if let ping = try entry.seconds("ping_interval", range: 0...86_400) { tunnel.pingInterval = ping }
            tunnel.caFile = try entry.string("ca_file")
            tunnel.insecure = try entry.bool("insecure") ?? false
            tunnel.earlyData = try entry.bool("early_data") ?? true
            tunnel.pool = try entry.int("pool", range: TunnelConfig.poolRange) ?? 0
            if let refresh = try entry.seconds("pool_refresh", range: TunnelConfig.poolRefreshRange) { tunnel.poolRefresh = refresh }
            try Self.readDynamic(entry, into: &tunnel)
            try Self.readReverse(entry, into: &tunnel)
            try listed.apply(to: &tunnel, entry)
            result.tunnels.append(tunnel)
        }
        for entry in try toml.tables("servers") {
            try entry.checkKeys(["name", "admin_url", "token", "ca_file", "insecure"])
            let adminURL = try entry.requiredString("admin_url")
            if let token = try entry.string("token"), !HeadValidation.isToken68(token) {
                throw ConfigError("\(toml.file): \(entry.path).token: \(HeadValidation.notToken68)")
            }
            _ = try entry.wrap("admin_url") { () throws(ConfigError) in try ServerURL(parsing: adminURL) }
            result.servers.append(
                Server(
                    name: try entry.requiredString("name"), adminURL: adminURL, token: try entry.string("token"),
                    caFile: try entry.string("ca_file"), insecure: try entry.bool("insecure") ?? false))
        }
        return result
    }

    /// A reverse tunnel's keys: `target` (required), `reverse_name`.
    static func readReverse(_ entry: TOMLReader, into tunnel: inout TunnelConfig) throws(ConfigError) {
        let target = try entry.string("target")
        let reverseName = try entry.string("reverse_name")
        guard tunnel.mode == .reverse else {
            if target != nil || reverseName != nil {
                throw ConfigError("\(entry.file): \(entry.path): target and reverse_name are for mode = \"reverse\"")
            }
            return
        }
        guard let target else {
            throw ConfigError("\(entry.file): \(entry.path).target: a reverse tunnel needs the local service, like \"127.0.0.1:22\"")
        }
        tunnel.target = try entry.wrap("target") { () throws(ConfigError) in try HostPort(parsing: target) }
        if let reverseName {
            guard ReverseName.isValid(reverseName) else {
                throw ConfigError(
                    "\(entry.file): \(entry.path).reverse_name: '\(reverseName.printableLine)' is not a reverse tunnel name (\(ReverseName.rule))"
                )
            }
            tunnel.reverseName = reverseName
        } else if tunnel.url.path.split(separator: "/").last == nil {
            throw ConfigError("\(entry.file): \(entry.path).url: has no path to take the reverse name from (set reverse_name)")
        }
    }

    /// A dynamic tunnel's keys: `mode` was read with the URL; `allow`, `proxy_user`, `proxy_password`.
    static func readDynamic(_ entry: TOMLReader, into tunnel: inout TunnelConfig) throws(ConfigError) {
        tunnel.mode = try TunnelMode(parsing: try entry.string("mode") ?? "fixed")
        let allow = try entry.stringArray("allow")
        let user = try entry.string("proxy_user")
        let password = try entry.string("proxy_password")
        guard tunnel.mode.isDynamic else {
            if !allow.isEmpty || user != nil || password != nil {
                throw ConfigError(
                    "\(entry.file): \(entry.path): allow, proxy_user and proxy_password are for mode = \"socks5\", \"http-proxy\" or \"proxy\""
                )
            }
            return
        }
        if entry.has("allow") {
            tunnel.allow = try entry.wrap("allow") { () throws(ConfigError) in try AllowList(allow) }
        }
        switch (user, password) {
        case (nil, nil): break
        case (let user?, let password?):
            tunnel.proxyCredentials = try entry.wrap("proxy_user") { () throws(ConfigError) in
                try ProxyCredentials(user: user, password: password)
            }
        default:
            throw ConfigError("\(entry.file): \(entry.path): proxy_user and proxy_password go together")
        }
    }
}
