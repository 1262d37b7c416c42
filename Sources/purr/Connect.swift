import ArgumentParser
import Foundation
import Logging
import PurrClient
import PurrCore

/// `purr connect URL`: one tunnel in the foreground.
struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open one tunnel in the foreground until SIGINT or SIGTERM.",
        discussion: """
            Prints 'listening on ADDRESS' once ready. Each accepted connection dials the server (through \
            the proxy and TLS when asked, or takes a ready one from --pool), sends the upgrade request and \
            relays once the 101 arrives; after the first 101 that offers early data, the app's first bytes \
            go right behind the request. A failing connection is closed and logged; the tunnel keeps \
            listening.

            With several URLs the tunnel has several servers: a connection that fails before the 101 \
            (cannot connect, TLS, 502/503/504, no answer) goes on to the next, with the bytes the app \
            sent; 4xx answers are not retried (docs/failover.md).

            With --socks5 and/or --http-proxy the tunnel is dynamic: the URL holds {host} and {port}, \
            which each SOCKS or HTTP proxy request fills; the server needs a template route with an \
            allow list.

            Examples:
              purr connect http://host:8080/ssh --listen 127.0.0.1:2222
              purr connect wss://host/vnc --token-file ~/.purr-token
              purr connect --socks5 --http-proxy 'https://host/t/{host}/{port}'
              purr connect https://a.example/ssh https://b.example/ssh --servers spread
            """
    )

    @OptionGroup var tunnel: TunnelOptions

    @Argument(
        help: ArgumentHelp(
            "More servers for the same tunnel, tried in order when one fails (or shared: --servers spread).",
            discussion: "They use the same token, CA file and proxy; tunnels.toml can give each its own (docs/failover.md).",
            valueName: "url"))
    var moreURLs: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With several URLs: failover (the first healthy one, the default) or spread (the healthy one with the fewest connections).",
            valueName: "failover|spread"))
    var servers: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Local address: 127.0.0.1:PORT, [::1]:PORT, or localhost:PORT for both (port 0 picks one; default 127.0.0.1:0).",
            valueName: "host:port"))
    var listen: String = "127.0.0.1:0"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Close a connection idle (no bytes either way) for this many seconds (default: never; TCP keepalive finds dead peers).",
            valueName: "seconds"))
    var idleTimeout: Double?

    @OptionGroup var dynamic: DynamicOptions

    @OptionGroup var threads: ThreadOptions

    @OptionGroup var log: LogOptions

    func run() async throws {
        let config: TunnelConfig
        let threadCount: Int?
        do {
            let address: ListenAddress
            do { address = try ListenAddress(parsing: listen) } catch { throw error.located("--listen") }
            if let idleTimeout, !(idleTimeout > 0) { throw ConfigError("--idle-timeout: must be more than 0 seconds") }
            var opened = try tunnel.tunnelConfig(name: "connect", listen: address, idleTimeout: idleTimeout, dynamic: dynamic)
            try addServers(to: &opened)
            config = opened
            threadCount = try threads.checked()
            try log.bootstrap(default: .info)
        } catch {
            CommandLineSupport.usageError("purr", (error as? ConfigError)?.message ?? "\(error)")
        }
        let logger = Logger(label: "purr")
        let engine = TunnelEngine(threads: threadCount, logger: logger)
        let opened = try engine.add(config)
        do {
            try await ProcessLifecycle.run(
                logger: logger,
                start: {
                    let state = await opened.open()
                    guard state == .listening else {
                        await engine.shutdown()
                        CommandLineSupport.runtimeError("purr", "\(state)")
                    }
                    CommandLineSupport.printLine("listening on \(opened.snapshot.boundAddresses.joined(separator: ", "))")
                },
                stop: { await engine.shutdown() })
        } catch {
            await engine.shutdown()
            CommandLineSupport.runtimeError("purr", "\(error)")
        }
        ProcessExit.success.exit()
    }

    /// The URLs after the first, and `--servers`; each bad one named.
    private func addServers(to config: inout TunnelConfig) throws(ConfigError) {
        if let servers {
            do { config.serverChoice = try ServerChoice(parsing: servers) } catch { throw error.located("--servers") }
        }
        for (index, text) in moreURLs.enumerated() {
            do {
                let url = config.mode.isDynamic ? try ServerURL(parsingTemplate: text) : try ServerURL(parsing: text)
                config.moreServers.append(TunnelServer(url: url))
            } catch { throw error.located("URL \(index + 2)") }
        }
        try config.validateHead()
    }
}
