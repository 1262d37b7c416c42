import PurrCore

/// A tunnel's `url` in tunnels.toml: one URL, an array of URLs, or an array of inline tables
/// `{ url = "...", token = "...", ca_file = "...", proxy = "..." }` (settings of that server alone), and
/// `servers = "failover" | "spread"`. Each bad value is one line naming the file and key.
struct ServerList {
    var first: TunnelServer
    var more: [TunnelServer] = []

    static let keys: Set<String> = ["url", "token", "ca_file", "proxy"]

    static func read(_ entry: TOMLReader, dynamic: Bool) throws(ConfigError) -> ServerList {
        let parse = { (text: String) throws(ConfigError) -> ServerURL in
            dynamic ? try ServerURL(parsingTemplate: text) : try ServerURL(parsing: text)
        }
        guard entry.has("url") else { throw ConfigError("\(entry.file): \(entry.path).url: missing (required)") }
        if let text = try? entry.string("url") {
            return ServerList(first: TunnelServer(url: try entry.wrap("url") { () throws(ConfigError) in try parse(text) }))
        }
        var servers: [TunnelServer] = []
        if let texts = try? entry.stringArray("url") {
            for (index, text) in texts.enumerated() {
                servers.append(TunnelServer(url: try entry.wrap("url[\(index)]") { () throws(ConfigError) in try parse(text) }))
            }
        } else if let tables = try? entry.tables("url") {
            for table in tables {
                try table.checkKeys(keys)
                let text = try table.requiredString("url")
                var server = TunnelServer(url: try table.wrap("url") { () throws(ConfigError) in try parse(text) })
                if let token = try table.string("token") {
                    guard !token.isEmpty, HeadValidation.isToken68(token) else {
                        throw ConfigError(
                            "\(table.file): \(table.path).token: \(token.isEmpty ? "is empty" : "\(HeadValidation.notToken68)")")
                    }
                    server.token = token
                }
                server.caFile = try table.string("ca_file")
                if let proxyText = try table.string("proxy") {
                    if proxyText == "none" || proxyText.isEmpty {
                        server.noProxy = true
                    } else {
                        server.proxy = try table.wrap("proxy") { () throws(ConfigError) in try ProxySettings(parsing: proxyText) }
                    }
                }
                servers.append(server)
            }
        } else {
            throw ConfigError(
                "\(entry.file): \(entry.path).url: expected a URL, an array of URLs, or an array of { url = \"...\", token = \"...\" } tables"
                    + " (not both kinds in one array: write a URL alone as { url = \"...\" })"
            )
        }
        guard let first = servers.first else {
            throw ConfigError("\(entry.file): \(entry.path).url: the array is empty (give at least one server URL)")
        }
        guard servers.count <= TunnelConfig.maxServers else {
            throw ConfigError("\(entry.file): \(entry.path).url: at most \(TunnelConfig.maxServers) servers per tunnel")
        }
        return ServerList(first: first, more: Array(servers.dropFirst()))
    }

    /// Puts the list into `tunnel` (read with its tunnel-wide token, CA file and proxy): the first server's own
    /// settings become the tunnel's, and every other server keeps the tunnel-wide ones it does not set.
    func apply(to tunnel: inout TunnelConfig, _ entry: TOMLReader) throws(ConfigError) {
        if let text = try entry.string("servers") {
            tunnel.serverChoice = try entry.wrap("servers") { () throws(ConfigError) in try ServerChoice(parsing: text) }
        }
        if !more.isEmpty && tunnel.mode == .reverse {
            throw ConfigError("\(entry.file): \(entry.path).url: a reverse tunnel takes one server URL")
        }
        let wide = TunnelServer(url: first.url, token: tunnel.token, caFile: tunnel.caFile, proxy: tunnel.proxy, noProxy: tunnel.noProxy)
        tunnel.moreServers = more.map { server in
            var server = server
            server.token = server.token ?? wide.token
            server.caFile = server.caFile ?? wide.caFile
            if !server.noProxy && server.proxy == nil {
                server.proxy = wide.proxy
                server.noProxy = wide.noProxy
            }
            return server
        }
        if let token = first.token { tunnel.token = token }
        if let caFile = first.caFile { tunnel.caFile = caFile }
        if first.noProxy {
            tunnel.noProxy = true
            tunnel.proxy = nil
        } else if let proxy = first.proxy {
            tunnel.noProxy = false
            tunnel.proxy = proxy
        }
    }
}
