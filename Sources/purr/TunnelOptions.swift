import ArgumentParser
import Foundation
import Logging
import PurrClient
import PurrCore

/// The options every command that reaches a server shares.
struct TunnelOptions: ParsableArguments {
    @Argument(help: "The server URL, e.g. http://purr.example.com:8080/ssh (ws:// or wss:// for a real WebSocket).")
    var url: String

    @Option(
        name: .long,
        help: """
            Bearer token for the route (sent as Authorization: Bearer). Visible to every user in the process \
            list: prefer --token-file or PURR_TOKEN.
            """
    )
    var token: String?

    @Option(name: .long, help: ArgumentHelp("Read the bearer token from this file (its first line; keep it chmod 600).", valueName: "file"))
    var tokenFile: String?

    @Option(
        name: [.customShort("H"), .customLong("header")],
        help: ArgumentHelp(
            "Extra request header 'Name: value' (repeatable), e.g. for an auth proxy in front of the server.", valueName: "header"))
    var headers: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "HTTP proxy URL (http://user:pass@host:port), or 'none' to ignore HTTP(S)_PROXY.",
            discussion: "Default: HTTPS_PROXY for https:// and wss:// URLs, HTTP_PROXY otherwise, unless NO_PROXY lists the server.",
            valueName: "url"))
    var proxy: String?

    @Option(
        name: .long,
        help: """
            How to authenticate to the proxy: auto (the strongest it offers: Negotiate with your Kerberos ticket, \
            NTLM, Basic), negotiate, ntlm or basic. Passwords go in the proxy URL of tunnels.toml, never in a flag.
            """
    )
    var proxyAuth: String?

    @Option(
        name: .long,
        help: ArgumentHelp("For https:// and wss:// URLs: PEM CA certificates to trust besides the system's.", valueName: "file"))
    var caFile: String?

    @Flag(name: .long, help: "For https:// URLs: do not verify the certificate (dangerous; warned about on every start).")
    var insecure = false

    @Flag(name: .long, help: "Speak WebSocket (RFC 6455) to the server, as ws:// and wss:// URLs do.")
    var websocket = false

    @Option(name: .long, help: "WebSocket: seconds between pings; no pong within one interval ends the connection (default 25, 0: off).")
    var pingInterval: Double?

    @Flag(name: .long, help: "Never send the app's first bytes before the server's 101 (even to a server that keeps them).")
    var noEarlyData = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Connections to the server kept ready before the app connects (0-64; 0: none).",
            discussion: "TCP, proxy CONNECT and TLS done ahead, nothing sent: an app connection only sends its upgrade request.",
            valueName: "n"))
    var pool: Int = 0

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds a ready pooled connection waits before it is replaced (1-3600, default 20; below the server's silent timeout).",
            valueName: "seconds"))
    var poolRefresh: Double?

    /// A tunnel config from these options; errors name the flag.
    /// A dynamic tunnel's (`dynamic`) URL is a template holding `{host}` and `{port}`.
    func tunnelConfig(name: String, listen: ListenAddress, idleTimeout: Double? = nil, dynamic: DynamicOptions? = nil) throws(ConfigError)
        -> TunnelConfig
    {
        let serverURL: ServerURL
        do {
            serverURL = dynamic?.mode.isDynamic == true ? try ServerURL(parsingTemplate: url) : try ServerURL(parsing: url)
        } catch { throw error.located("URL") }
        var parsedHeaders: [TunnelConfig.Header] = []
        for header in headers {
            do { parsedHeaders.append(try TunnelConfig.Header(parsing: header)) } catch { throw error.located("-H") }
        }
        let token = try chosenToken(environment: ProcessInfo.processInfo.environment)
        var proxySettings: ProxySettings?
        var noProxy = false
        if let proxy {
            if proxy == "none" {
                noProxy = true
            } else {
                do { proxySettings = try ProxySettings(parsing: proxy) } catch { throw error.located("--proxy") }
            }
        }
        var config = TunnelConfig(
            name: name,
            url: serverURL,
            listen: listen,
            token: token,
            headers: parsedHeaders,
            proxy: proxySettings,
            noProxy: noProxy,
            idleTimeout: idleTimeout
        )
        if let proxyAuth {
            do { config.proxyAuth = try ProxyAuthMode(parsing: proxyAuth) } catch { throw error.located("--proxy-auth") }
        }
        if websocket { config.upgrade = .websocket }
        if let pingInterval {
            guard pingInterval.isFinite, (0...86_400).contains(pingInterval) else {
                throw ConfigError("--ping-interval: expected seconds from 0 to 86400, got \(pingInterval)")
            }
            config.pingInterval = pingInterval
        }
        config.caFile = caFile
        config.insecure = insecure
        config.earlyData = !noEarlyData
        guard TunnelConfig.poolRange.contains(pool) else {
            throw ConfigError("--pool: expected a number from 0 to 64, got \(pool)")
        }
        config.pool = pool
        if let poolRefresh {
            guard poolRefresh.isFinite, TunnelConfig.poolRefreshRange.contains(poolRefresh) else {
                throw ConfigError("--pool-refresh: expected seconds from 1 to 3600, got \(poolRefresh)")
            }
            config.poolRefresh = poolRefresh
        }
        try dynamic?.apply(to: &config, environment: ProcessInfo.processInfo.environment)
        try config.validateHead()
        return config
    }

    /// The token from `--token`, `--token-file` or `PURR_TOKEN` (in that order), checked where it came from.
    func chosenToken(environment: [String: String]) throws(ConfigError) -> String? {
        let found: (source: String, value: String)?
        switch (token, tokenFile) {
        case (.some, .some):
            throw ConfigError("use one of --token and --token-file")
        case (.some(let value), nil):
            found = ("--token", value)
        case (nil, .some(let file)):
            found = ("--token-file \(file)", try Self.readTokenFile(file))
        case (nil, nil):
            found = environment["PURR_TOKEN"].map { ("PURR_TOKEN", $0) }
        }
        guard let found else { return nil }
        if found.value.isEmpty { throw ConfigError("\(found.source): is empty") }
        guard HeadValidation.isToken68(found.value) else { throw ConfigError("\(found.source): \(HeadValidation.notToken68)") }
        return found.value
    }

    /// A token file's first line (a trailing newline, as editors write it, is not part of the token).
    static func readTokenFile(_ file: String) throws(ConfigError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError("--token-file \(file): cannot read: \(TOMLReader.describe(error))")
        }
        SecretFileCheck.warn(file, program: "purr")
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard lines.count <= 1 else { throw ConfigError("--token-file \(file): expected one line, found \(lines.count)") }
        return lines.first.map { $0.trimmingASCIIWhitespace() } ?? ""
    }
}

/// `--log-level`, shared.
struct LogOptions: ParsableArguments {
    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func bootstrap(default level: Logger.Level) throws(ConfigError) {
        var chosen = level
        if let logLevel {
            do { chosen = try Logger.Level(parsing: logLevel) } catch { throw error.located("--log-level") }
        }
        CommandLineSupport.bootstrapLogging(level: chosen)
    }
}

/// `--threads`, shared: the engine's event-loop threads.
struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(EventLoopThreads.help, discussion: EventLoopThreads.discussion, valueName: "n"))
    var threads: Int?

    /// The count asked for (nil: one per core); out of range is one clear line.
    func checked() throws(ConfigError) -> Int? {
        try EventLoopThreads.checked(threads)
    }
}
