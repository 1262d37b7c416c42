import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrCore
import PurrServer

@main
struct PurrServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purr-server",
        abstract: "Answer Purr upgrade requests and relay each to a TCP target.",
        discussion: """
            Each client connection is an HTTP/1.1 upgrade request: Upgrade: purr (the original Purr \
            protocol, raw bytes after the 101), Upgrade: websocket with the Purr headers (the original's \
            compatibility mode), or a real WebSocket (RFC 6455 frames). The server picks the route, \
            checks its token, connects the target, answers 101 and relays bytes both ways, half-close \
            included. Every refusal is one plain-text line: 404 no such route, 401 token missing or \
            wrong, 502 target unreachable, 400 malformed, 431 head too large, 408 too slow, 503 over a limit.

            Routes come from --route PATH=HOST:PORT flags and [[routes]] in --config (a server.toml); \
            a flag replaces a file route with the same path. A path matches a route exactly, or as a \
            prefix that ends at a '/'; the longest match wins. Route tokens, per-route limits, Host \
            matching and routes whose target is chosen per request (path templates, token files, a \
            resolver service, signed tokens), with their allow lists, are set in the file. The other \
            settings have keys there too (listen, header_timeout, max_connections, tls_cert, \
            ws_origins, [admin] port, host, token and tls...); flags win.

            Once listening it prints 'listening on ADDRESS' (and 'admin on ADDRESS') on standard \
            output. Logs go to standard error, one line per event (open, close with bytes and reason, \
            each refusal with its status); tokens are never logged.

            SIGHUP re-reads --config whole, flags on top (routes, tokens, limits, log level, admin \
            token, TLS certificate and key), for connections accepted from then on; relays already up \
            keep going, unless --drop-removed. A file that does not load keeps the old configuration \
            and logs one line.

            SIGINT and SIGTERM (or POST /drain on the admin endpoint, which 'purr-server drain' sends) \
            start draining: the listener stays open, every new upgrade is answered 503 with \
            Retry-After (--retry-after) and the body 'draining', GET /healthz answers 503, live relays \
            go on; the server exits when the last relay ends, or after --drain-timeout seconds, \
            closing the rest. GET /healthz on the listener answers 200 'ok' while serving (no token; \
            HEAD too); no route may be at /healthz.

            Environment: PURR_ADMIN_TOKEN, the admin token (after --admin-token, before admin.token).

            Exit status: 0 after SIGINT, SIGTERM or a drain; 2 for a bad flag or config file, or an address \
            that cannot be bound, with one line naming it.

            Examples:
              purr-server --route /ssh=127.0.0.1:22
              purr-server --config /etc/purr/server.toml --admin-port 9090

            Reference: docs/server.md, docs/routing.md, docs/admin-api.md and docs/operations.md in \
            the source tree.
            """,
        version: PurrVersion.current,
        subcommands: [DrainCommand.self]
    )

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Address to listen on, HOST:PORT or [IPv6]:PORT; port 0 picks a free one (default 127.0.0.1:8080).", valueName: "host:port"))
    var listen: String?

    @Option(
        name: .customLong("route"),
        help: ArgumentHelp(
            "A route: requests for PATH (or below it) go to HOST:PORT (repeatable). No token: set route tokens in --config.",
            valueName: "path=host:port"))
    var routes: [String] = []

    @Option(name: .long, help: ArgumentHelp("A server.toml file (routes, limits, TLS, [admin]); re-read on SIGHUP.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds from a client's first byte to the end of its request head, then 408 (default 10).", valueName: "seconds"))
    var headerTimeout: Double?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds a connection that has sent nothing may wait, e.g. in a client's warm pool (default 60).",
            discussion: "Then it is closed without an answer (counted as silent_timeout).", valueName: "seconds"))
    var silentTimeout: Double?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds active relays may finish once draining (SIGINT, SIGTERM, POST /drain) before they are closed (default 10).",
            valueName: "seconds"))
    var drainTimeout: Double?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds in Retry-After on the 503s a draining server answers (default 2; 0-3600).",
            discussion: "Every new upgrade and GET /healthz get 503 while draining; clients with another server go there.",
            valueName: "seconds"))
    var retryAfter: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Connections open at once before new ones get 503 (default 4096; per route: max_connections in the config).", valueName: "n"))
    var maxConnections: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Connections from one address still silent or sending their request head before more get 503 (default 64; 0: no limit).",
            discussion: "Relaying connections do not count. Keeps one peer from holding every slot with sockets that say nothing.",
            valueName: "n"))
    var maxConnectionsPerPeer: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Close relays with no traffic either way for this many seconds (default 0: never; TCP keepalive finds dead peers).",
            valueName: "seconds"))
    var idleTimeout: Double?

    @Option(name: .long, help: ArgumentHelp(EventLoopThreads.help, discussion: EventLoopThreads.discussion, valueName: "n"))
    var threads: Int?

    @Option(
        name: .long, help: ArgumentHelp("Largest request head in bytes, 1024 to 1048576, before 431 (default 16384).", valueName: "bytes"))
    var maxHeadSize: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Largest WebSocket frame or message a client may send, in bytes, before close 1009 (default 1048576).", valueName: "bytes"))
    var wsMaxMessage: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A browser origin (http://host:port, or *) whose WebSocket requests are accepted (repeatable; default none).",
            discussion: "A WebSocket request whose Origin is not listed gets 403. Programs send no Origin and are not affected.",
            valueName: "origin"))
    var wsOrigin: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "PEM certificate chain: speak TLS (with --tls-key); reloaded on SIGHUP (a bad file keeps the old one).", valueName: "file"))
    var tlsCert: String?

    @Option(name: .long, help: ArgumentHelp("PEM private key for --tls-cert (keep it chmod 600).", valueName: "file"))
    var tlsKey: String?

    @Flag(name: .long, help: "On reload (SIGHUP), close live relays whose route was removed or got another target or token.")
    var dropRemoved = false

    @Flag(name: .long, help: "Serve the admin endpoint over TLS too (same certificate).")
    var adminTLS = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Serve the admin endpoint on this port (HTTP on 127.0.0.1 unless --admin-host).",
            discussion:
                "GET /healthz, /stats (JSON), /stats/stream (server-sent events), /metrics (Prometheus); POST /drain (token needed).",
            valueName: "port"))
    var adminPort: Int?

    @Option(
        name: .long,
        help: ArgumentHelp("Admin endpoint address (default 127.0.0.1; a non-loopback address needs a token).", valueName: "host"))
    var adminHost: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Bearer token the admin endpoint requires (or PURR_ADMIN_TOKEN, or admin.token in the config).",
            discussion: "Visible to every local user in the process list: prefer PURR_ADMIN_TOKEN or the file.", valueName: "token"))
    var adminToken: String?

    static func main() async {
        let command: PurrServerCommand
        do {
            let parsed = try parseAsRoot(nil)
            if let drain = parsed as? DrainCommand { await drain.send() }
            guard let root = parsed as? PurrServerCommand else {
                // ArgumentParser's own commands (`help`): they end by throwing their clean exit.
                var other = parsed
                try other.run()
                ProcessExit.success.exit()
            }
            command = root
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                ProcessExit.success.exit()
            }
            CommandLineSupport.usageError("purr-server", CommandLineSupport.firstLine(message(for: error)))
        }
        let config: ServerConfig
        do {
            config = try command.resolveConfig()
        } catch {
            CommandLineSupport.usageError("purr-server", error.message)
        }
        await command.serve(config)
    }

    /// The file's settings with the flags on top; every error names its flag, file or key.
    func resolveConfig() throws(ConfigError) -> ServerConfig {
        var config = try config.map { file throws(ConfigError) in try ServerConfig.load(file: file) } ?? ServerConfig()
        if let listen {
            do {
                config.listen = try HostPort(parsing: listen, allowZeroPort: true)
            } catch {
                throw error.located("--listen")
            }
        }
        var flagRoutes: [Route] = []
        for flag in routes { flagRoutes.append(try Route(flag: flag)) }
        config.merge(routes: flagRoutes)
        try config.checkReservedPaths()
        if let logLevel {
            do { config.logLevel = try Logger.Level(parsing: logLevel) } catch { throw error.located("--log-level") }
        }
        // Flags that are numbers in a range: one check, one message shape.
        try Self.apply(headerTimeout, "--header-timeout", 0.001...3600, "seconds", to: &config.headerTimeout)
        try Self.apply(silentTimeout, "--silent-timeout", 0.001...86_400, "seconds", to: &config.silentTimeout)
        try Self.apply(drainTimeout, "--drain-timeout", 0...3600, "seconds", to: &config.drainTimeout)
        try Self.apply(retryAfter, "--retry-after", ServerConfig.retryAfterRange, "seconds", to: &config.retryAfter)
        try Self.apply(maxConnections, "--max-connections", ServerConfig.connectionLimitRange, "connections", to: &config.maxConnections)
        try Self.apply(
            maxConnectionsPerPeer, "--max-connections-per-peer", ServerConfig.peerLimitRange, "connections",
            to: &config.maxConnectionsPerPeer)
        try Self.apply(idleTimeout, "--idle-timeout", 0...604_800, "seconds", to: &config.idleTimeout)
        if let threads = try EventLoopThreads.checked(threads) { config.threads = threads }
        try Self.apply(maxHeadSize, "--max-head-size", ServerConfig.headSizeRange, "bytes", to: &config.maxHeadSize)
        try Self.apply(wsMaxMessage, "--ws-max-message", ServerConfig.webSocketMessageRange, "bytes", to: &config.webSocketMaxMessage)
        if dropRemoved { config.dropRemoved = true }
        if !wsOrigin.isEmpty { config.webSocketOrigins = wsOrigin }
        if let tlsCert { config.tlsCertificate = tlsCert }
        if let tlsKey { config.tlsKey = tlsKey }
        guard (config.tlsCertificate == nil) == (config.tlsKey == nil) else {
            throw ConfigError("--tls-cert and --tls-key (tls_cert, tls_key) go together")
        }
        try resolveAdmin(&config, environment: ProcessInfo.processInfo.environment)
        if let admin = config.admin, admin.tls, config.tlsCertificate == nil {
            throw ConfigError("--admin-tls needs --tls-cert and --tls-key")
        }
        return config
    }

    /// Sets `target` to a flag's value if given, after checking its range.
    static func apply<Value: Comparable>(
        _ value: Value?, _ flag: String, _ range: ClosedRange<Value>, _ unit: String, to target: inout Value
    ) throws(ConfigError) {
        guard let value else { return }
        guard range.contains(value) else {
            throw ConfigError("\(flag): \(value) is out of range \(range.lowerBound)...\(range.upperBound) \(unit)")
        }
        target = value
    }

    /// The admin endpoint from flags, then `PURR_ADMIN_TOKEN`, then `[admin]` in the file.
    func resolveAdmin(_ config: inout ServerConfig, environment: [String: String]) throws(ConfigError) {
        let file = config.adminFile
        guard let port = adminPort ?? file.port else {
            if adminHost != nil || adminToken != nil {
                throw ConfigError("--admin-host and --admin-token need --admin-port (or admin.port in the config)")
            }
            return
        }
        guard (0...65535).contains(port) else { throw ConfigError("--admin-port: \(port) is not a port number 0-65535") }
        let host = adminHost ?? file.host ?? "127.0.0.1"
        let listen: HostPort
        do {
            listen = try HostPort(parsing: HostPort(host: host, port: port).description, allowZeroPort: true)
        } catch {
            throw error.located("--admin-host")
        }
        let token = adminToken ?? environment["PURR_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? file.token
        var admin = AdminConfig(listen: listen, token: token)
        admin.tls = adminTLS || file.tls
        if let value = file.idleTimeout { admin.idleTimeout = value }
        if let value = file.maxConnections { admin.maxConnections = value }
        try admin.validate()
        config.admin = admin
    }

    func serve(_ config: ServerConfig) async {
        // SIGHUP means reload, never the default action (which ends the process): ignored until the
        // lifecycle's reload service traps it.
        ProcessLifecycle.ignoreUntilTrapped([.hangUp])
        let levelSwitch = CommandLineSupport.bootstrapLogging(level: config.logLevel)
        let logger = Logger(label: "purr-server")
        var tls: ServerTLS?
        if let certificate = config.tlsCertificate, let key = config.tlsKey {
            do {
                tls = try ServerTLS(certificatePath: certificate, keyPath: key)
            } catch {
                CommandLineSupport.usageError("purr-server", error.message)
            }
            // After the key loaded: a file that is no key at all gets its one error line, not a warning too.
            SecretFileCheck.warn(key, program: "purr-server")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: EventLoopThreads.count(config.threads))
        let server = PurrServer(config: config, group: group, logger: logger, tls: tls)
        let admin = config.admin.map {
            AdminServer(
                config: $0, registry: server.registry, group: group, logger: logger, tls: $0.tls ? tls : nil, drain: { server.drain() })
        }
        let command = self
        let reloader = ConfigReloader(
            resolve: { () throws(ConfigError) in try command.resolveConfig() }, server: server, admin: admin, levelSwitch: levelSwitch,
            logger: logger)
        do {
            // A drain asked on the admin endpoint ends the group as a stop signal would.
            try await ProcessLifecycle.run(
                services: [DrainRequestService(server: server)], reload: { reloader.reload() }, logger: logger,
                start: { await Self.start(server, admin: admin, listen: config.listen) },
                stop: {
                    logger.info("shutting down")
                    // The admin endpoint stays up while draining: its stream shows `draining` and the relays ending.
                    await server.shutdown(drainTimeout: config.drainTimeout)
                    await admin?.shutdown()
                })
        } catch {
            logger.error("stopped by a failure", metadata: ["reason": "\(error)"])
            ProcessExit.failure.exit()
        }
        try? await group.shutdownGracefully()
        logger.info("stopped")
        ProcessExit.success.exit()
    }

    /// Binds the server and the admin endpoint; an address either cannot listen on is a usage error. Then
    /// one line each on standard output, for scripts (and --listen with port 0).
    static func start(_ server: PurrServer, admin: AdminServer?, listen: HostPort) async {
        do {
            try await server.start()
        } catch {
            CommandLineSupport.usageError("purr-server", "cannot listen on \(listen): \(Self.reason(error))")
        }
        if let admin {
            do {
                try await admin.start()
            } catch {
                CommandLineSupport.usageError(
                    "purr-server", "cannot listen on admin address \(admin.config.listen): \(Self.reason(error))")
            }
        }
        CommandLineSupport.printLine("listening on \(server.registry.snapshot().server.listen)")
        if let admin { CommandLineSupport.printLine("admin on \(HostPort(host: admin.config.listen.host, port: admin.port))") }
    }

    static func reason(_ error: any Error) -> String {
        (error as? IOError).map { ConnectFailure.describe(errno: $0.errnoCode) } ?? "\(error)"
    }
}
