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
            Routes come from --route flags and/or [[routes]] in --config; flags win. Routes whose target is
            chosen per request (path templates, token files) and their allow lists are set in the file.
            SIGHUP re-reads --config (routes, tokens, limits, log level, admin token, TLS files) for new
            connections; relays already up keep going. SIGINT/SIGTERM drain and stop.
            Example: purr-server --listen 127.0.0.1:8080 --route /ssh=127.0.0.1:22
            """,
        version: PurrVersion.current
    )

    @Option(name: .long, help: "Address to listen on, HOST:PORT or [IPv6]:PORT (default 127.0.0.1:8080).")
    var listen: String?

    @Option(name: .customLong("route"), help: "A route PATH=HOST:PORT (repeatable).")
    var routes: [String] = []

    @Option(name: .long, help: "A server.toml file.")
    var config: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    @Option(name: .long, help: "Seconds from a client's first byte to the end of its request head (default 10).")
    var headerTimeout: Double?

    @Option(name: .long, help: "Seconds a connection that has sent nothing may wait, e.g. in a client's warm pool (default 60).")
    var silentTimeout: Double?

    @Option(name: .long, help: "Seconds active relays may finish after SIGINT/SIGTERM (default 10).")
    var drainTimeout: Double?

    @Option(name: .long, help: "Connections open at once before new ones get 503 (default 4096; per route: max_connections in the config).")
    var maxConnections: Int?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Connections from one address still silent or handshaking before more get 503 (default 64; 0: no limit).",
            discussion: "Relaying connections do not count. Keeps one peer from holding every slot with sockets that say nothing."))
    var maxConnectionsPerPeer: Int?

    @Option(name: .long, help: "Close relays with no traffic either way for this many seconds (default 0: never).")
    var idleTimeout: Double?

    @Option(name: .long, help: "Largest request head in bytes before 431 (default 16384).")
    var maxHeadSize: Int?

    @Option(name: .long, help: "Largest WebSocket frame or message a client may send, in bytes, before close 1009 (default 1048576).")
    var wsMaxMessage: Int?

    @Option(
        name: .long, help: "A browser origin (http://host:port, or *) whose WebSocket requests are accepted (repeatable; default none).")
    var wsOrigin: [String] = []

    @Option(name: .long, help: "PEM certificate chain: speak TLS (with --tls-key); reloaded on SIGHUP.")
    var tlsCert: String?

    @Option(name: .long, help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Flag(name: .long, help: "On reload (SIGHUP), close live relays whose route was removed or got another target or token.")
    var dropRemoved = false

    @Flag(name: .long, help: "Serve the admin endpoint over TLS too (same certificate).")
    var adminTLS = false

    @Option(name: .long, help: "Serve live stats on this port (HTTP on 127.0.0.1 unless --admin-host).")
    var adminPort: Int?

    @Option(name: .long, help: "Admin endpoint address (default 127.0.0.1; a non-loopback address needs a token).")
    var adminHost: String?

    @Option(name: .long, help: "Bearer token the admin endpoint requires (or PURR_ADMIN_TOKEN, or admin.token in the config).")
    var adminToken: String?

    static func main() async {
        let command: PurrServerCommand
        do {
            command = try parse(nil)
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
        if let logLevel {
            do { config.logLevel = try Logger.Level(parsing: logLevel) } catch { throw error.located("--log-level") }
        }
        // Flags that are numbers in a range: one check, one message shape.
        try Self.apply(headerTimeout, "--header-timeout", 0.001...3600, "seconds", to: &config.headerTimeout)
        try Self.apply(silentTimeout, "--silent-timeout", 0.001...86_400, "seconds", to: &config.silentTimeout)
        try Self.apply(drainTimeout, "--drain-timeout", 0...3600, "seconds", to: &config.drainTimeout)
        try Self.apply(maxConnections, "--max-connections", ServerConfig.connectionLimitRange, "connections", to: &config.maxConnections)
        try Self.apply(
            maxConnectionsPerPeer, "--max-connections-per-peer", ServerConfig.peerLimitRange, "connections",
            to: &config.maxConnectionsPerPeer)
        try Self.apply(idleTimeout, "--idle-timeout", 0...604_800, "seconds", to: &config.idleTimeout)
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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let server = PurrServer(config: config, group: group, logger: logger, tls: tls)
        let admin = config.admin.map {
            AdminServer(config: $0, registry: server.registry, group: group, logger: logger, tls: $0.tls ? tls : nil)
        }
        let command = self
        let reloader = ConfigReloader(
            resolve: { () throws(ConfigError) in try command.resolveConfig() }, server: server, admin: admin, levelSwitch: levelSwitch,
            logger: logger)
        do {
            try await ProcessLifecycle.run(
                reload: { reloader.reload() }, logger: logger,
                start: { await Self.start(server, admin: admin, listen: config.listen) },
                stop: {
                    logger.info("shutting down")
                    await admin?.shutdown()
                    await server.shutdown(drainTimeout: config.drainTimeout)
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
