import Foundation
import PurrCore

/// Writes `tunnels.toml` back (after the TUI adds, edits or deletes a tunnel): to a temporary file in
/// the same directory, then renamed over the old one, so a crash never leaves half a file.
public enum TunnelsFileWriter {
    public static func render(_ file: TunnelsFile) -> String {
        var out = "# Purr tunnels (written by purr-tui; comments are not kept)\n"
        if let theme = file.theme { out += "theme = \(quote(theme))\n" }
        if !file.browser.allowedOrigins.isEmpty || file.browser.legacyExtension {
            let origins = file.browser.allowedOrigins.map { quote($0.description) }.joined(separator: ", ")
            out += "\n[browser]\nallowed_origins = [\(origins)]\n"
            if file.browser.legacyExtension { out += "legacy_extension = true\n" }
        }
        for tunnel in file.tunnels {
            out += "\n[[tunnels]]\n"
            out += "name = \(quote(tunnel.name))\n"
            out += "url = \(renderURL(tunnel))\n"
            if tunnel.serverChoice != .failover { out += "servers = \(quote(tunnel.serverChoice.rawValue))\n" }
            out += "listen = \(quote(tunnel.listen.description))\n"
            if tunnel.mode != .fixed { out += "mode = \(quote(tunnel.mode.rawValue))\n" }
            if let target = tunnel.target { out += "target = \(quote(target.description))\n" }
            if let reverseName = tunnel.reverseName { out += "reverse_name = \(quote(reverseName))\n" }
            if let allow = tunnel.allow { out += "allow = [\(allow.rules.map { quote($0.description) }.joined(separator: ", "))]\n" }
            if let credentials = tunnel.proxyCredentials {
                out += "proxy_user = \(quote(credentials.user))\nproxy_password = \(quote(credentials.password))\n"
            }
            if let token = tunnel.token { out += "token = \(quote(token))\n" }
            if !tunnel.headers.isEmpty {
                let pairs = tunnel.headers.map { "\(quote($0.name)) = \(quote($0.value))" }.joined(separator: ", ")
                out += "headers = { \(pairs) }\n"
            }
            if tunnel.noProxy {
                out += "proxy = \"none\"\n"
            } else if let proxy = tunnel.proxy {
                out += "proxy = \(quote(proxy.urlString))\n"
            }
            if tunnel.proxyAuth != .auto { out += "proxy_auth = \(quote(tunnel.proxyAuth.rawValue))\n" }
            if tunnel.autostart { out += "autostart = true\n" }
            if let idle = tunnel.idleTimeout { out += "idle_timeout = \(idle)\n" }
            if tunnel.upgrade != .purr { out += "upgrade = \(quote(tunnel.upgrade.rawValue))\n" }
            if tunnel.pingInterval != TunnelConfig.defaultPingInterval { out += "ping_interval = \(tunnel.pingInterval)\n" }
            if let caFile = tunnel.caFile { out += "ca_file = \(quote(caFile))\n" }
            if tunnel.insecure { out += "insecure = true\n" }
            if !tunnel.earlyData { out += "early_data = false\n" }
            if tunnel.pool > 0 { out += "pool = \(tunnel.pool)\n" }
            if tunnel.poolRefresh != TunnelConfig.defaultPoolRefresh { out += "pool_refresh = \(tunnel.poolRefresh)\n" }
        }
        for server in file.servers {
            out += "\n[[servers]]\n"
            out += "name = \(quote(server.name))\n"
            out += "admin_url = \(quote(server.adminURL))\n"
            if let token = server.token { out += "token = \(quote(token))\n" }
            if let caFile = server.caFile { out += "ca_file = \(quote(caFile))\n" }
            if server.insecure { out += "insecure = true\n" }
        }
        return out
    }

    /// Saves atomically; an error says what failed and where.
    public static func save(_ file: TunnelsFile, to path: String) throws(ConfigError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let data = Data(render(file).utf8)
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw ConfigError("\(temporary.path): cannot create (\(String(cString: strerror(errno))))")
            }
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary.path, path) == 0 else {
                throw ConfigError("\(path): cannot replace (\(String(cString: strerror(errno))))")
            }
        } catch let error as ConfigError {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw ConfigError("\(path): cannot save: \(TOMLReader.describe(error))")
        }
    }

    /// One URL as a string; several as an array of strings, or of inline tables when a server after the
    /// first has settings of its own (they are written whole: what it shares with the tunnel too).
    static func renderURL(_ tunnel: TunnelConfig) -> String {
        guard !tunnel.moreServers.isEmpty else { return quote(tunnel.url.description) }
        let shared = tunnel.moreServers.allSatisfy { server in
            server.token == tunnel.token && server.caFile == tunnel.caFile && server.proxy == tunnel.proxy
                && server.noProxy == tunnel.noProxy
        }
        if shared { return "[" + tunnel.serverURLs.map { quote($0.description) }.joined(separator: ", ") + "]" }
        var tables = ["{ url = \(quote(tunnel.url.description)) }"]
        for server in tunnel.moreServers {
            var fields = ["url = \(quote(server.url.description))"]
            if let token = server.token { fields.append("token = \(quote(token))") }
            if let caFile = server.caFile { fields.append("ca_file = \(quote(caFile))") }
            if server.noProxy {
                fields.append("proxy = \"none\"")
            } else if let proxy = server.proxy {
                fields.append("proxy = \(quote(proxy.urlString))")
            }
            tables.append("{ \(fields.joined(separator: ", ")) }")
        }
        return "[\n  " + tables.joined(separator: ",\n  ") + ",\n]"
    }

    /// A TOML basic string.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
