import ArgumentParser
import Foundation
import PurrClient
import PurrCore

/// `purr connect --socks5 / --http-proxy`: a dynamic tunnel, whose requests name their targets.
struct DynamicOptions: ParsableArguments {
    @Flag(name: .long, help: "Speak SOCKS5 (and SOCKS4a) on the local port; each request fills {host} and {port} in the URL.")
    var socks5 = false

    @Flag(name: .long, help: "Speak HTTP proxy (CONNECT, absolute-form GET) on the local port; with --socks5: both on one port.")
    var httpProxy = false

    @Option(name: .long, help: "A dynamic tunnel: a target its requests may name, as in the server's allow lists (repeatable).")
    var allow: [String] = []

    @Option(
        name: .long,
        help: "A dynamic tunnel: the username the local port asks for (password: --proxy-password-file or PURR_PROXY_PASSWORD).")
    var proxyUser: String?

    @Option(name: .long, help: "A dynamic tunnel: read the local port's password from this file (its first line).")
    var proxyPasswordFile: String?

    var mode: TunnelMode {
        switch (socks5, httpProxy) {
        case (true, true): return .proxy
        case (true, false): return .socks5
        case (false, true): return .httpProxy
        case (false, false): return .fixed
        }
    }

    /// Puts the mode, allow list and credentials on `config` (whose URL was read as a template).
    func apply(to config: inout TunnelConfig, environment: [String: String]) throws(ConfigError) {
        config.mode = mode
        guard mode.isDynamic else {
            if !allow.isEmpty || proxyUser != nil || proxyPasswordFile != nil {
                throw ConfigError("--allow, --proxy-user and --proxy-password-file need --socks5 or --http-proxy")
            }
            return
        }
        if !allow.isEmpty {
            do { config.allow = try AllowList(allow) } catch { throw error.located("--allow") }
        }
        let password: String?
        if let file = proxyPasswordFile {
            do {
                password = try TunnelOptions.readTokenFile(file)
            } catch {
                throw ConfigError(error.message.replacingOccurrences(of: "--token-file", with: "--proxy-password-file"))
            }
        } else {
            password = environment["PURR_PROXY_PASSWORD"]
        }
        switch (proxyUser, password) {
        case (nil, _): break
        case (let user?, let password?):
            do { config.proxyCredentials = try ProxyCredentials(user: user, password: password) } catch {
                throw error.located("--proxy-user")
            }
        case (.some, nil):
            throw ConfigError("--proxy-user: give the password with --proxy-password-file or PURR_PROXY_PASSWORD")
        }
    }
}
