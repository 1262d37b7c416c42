import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrClient
import PurrCore

/// `purr expose URL --to HOST:PORT`: publishes a local service through a server's `[[reverse]]` entry.
struct Expose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish a local service through a Purr server's [[reverse]] entry (a reverse tunnel).",
        discussion: """
            Keeps --pool upgrade requests to URL open; the server answers one when a connection arrives at its \
            published side, and this side dials --to and relays. Prints 'exposed as NAME' once registered. \
            Example: purr expose https://purr.example/rev/lab-ssh --to 127.0.0.1:22 --token-file ~/.purr-token
            """
    )

    @OptionGroup var tunnel: TunnelOptions

    @Option(name: .long, help: "The local service to publish: HOST:PORT.")
    var to: String

    @Option(name: .long, help: "The [[reverse]] name (default: the URL path's last part).")
    var name: String?

    @Option(name: .long, help: "Seconds a held request stays open before it is replaced (1-3600; below any proxy's idle timeout).")
    var refresh: Double = 50

    @OptionGroup var threads: ThreadOptions

    @OptionGroup var log: LogOptions

    func run() async throws {
        var settings: ReverseExposer.Settings
        let threadCount: Int?
        do {
            let target: HostPort
            do { target = try HostPort(parsing: to) } catch { throw error.located("--to") }
            guard (1...3600).contains(refresh) else { throw ConfigError("--refresh: expected 1-3600 seconds") }
            // The tunnel options' --pool is the number of held requests here (default 4).
            var config = try tunnel.tunnelConfig(name: "expose", listen: try ListenAddress(parsing: "127.0.0.1:0"))
            config.pool = 0
            settings = ReverseExposer.Settings(tunnel: config, target: target, name: name)
            guard !settings.name.isEmpty else { throw ConfigError("--name: the URL has no path to take a name from") }
            // Sent as the Purr-Reverse header and shown in every log line: the server's rule, checked here.
            guard ReverseName.isValid(settings.name) else {
                throw ConfigError("--name: '\(settings.name.printableLine)' is not a reverse tunnel name (\(ReverseName.rule))")
            }
            settings.pool = tunnel.pool > 0 ? tunnel.pool : 4
            settings.refresh = refresh
            threadCount = try threads.checked()
            try log.bootstrap(default: .info)
        } catch {
            CommandLineSupport.usageError("purr", (error as? ConfigError)?.message ?? "\(error)")
        }
        let logger = Logger(label: "purr")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: EventLoopThreads.count(threadCount))
        let exposer = ReverseExposer(settings: settings, group: group, logger: logger)
        let name = settings.name
        do {
            try await ProcessLifecycle.run(
                logger: logger,
                start: {
                    do {
                        try exposer.start(
                            registered: { CommandLineSupport.printLine("exposed as \(name)") },
                            // A wrong token or an unknown name: one line and exit 2, not retries forever.
                            gaveUp: { why in CommandLineSupport.usageError("purr", "registration refused: \(why)") })
                    } catch {
                        CommandLineSupport.runtimeError("purr", (error as? ConfigError)?.message ?? "\(error)")
                    }
                },
                stop: {
                    exposer.stop()
                    try? await group.shutdownGracefully()
                })
        } catch {
            CommandLineSupport.runtimeError("purr", "\(error)")
        }
        ProcessExit.success.exit()
    }
}
