import ArgumentParser
import Foundation
import Logging
import PurrClient
import PurrCore

/// `purr up`: the config file's tunnels, headless.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the tunnels of a tunnels.toml (the autostart ones, or those named) until a signal."
    )

    @Option(name: .long, help: "The tunnels file (default $XDG_CONFIG_HOME/purr/tunnels.toml).")
    var config: String?

    @Argument(help: "Tunnel names to open (default: every tunnel with autostart = true).")
    var names: [String] = []

    @OptionGroup var log: LogOptions

    func run() async throws {
        let file = config ?? TunnelsFile.defaultPath()
        let chosen: [TunnelConfig]
        do {
            let tunnels = try TunnelsFile.load(file: file).tunnels
            if names.isEmpty {
                chosen = tunnels.filter(\.autostart)
                if chosen.isEmpty { throw ConfigError("\(file): no tunnel has autostart = true; name the ones to open") }
            } else {
                chosen = try names.map { name throws(ConfigError) in
                    guard let found = tunnels.first(where: { $0.name == name }) else {
                        throw ConfigError("\(file): no tunnel named '\(name)'")
                    }
                    return found
                }
            }
            try log.bootstrap(default: .info)
        } catch {
            CommandLineSupport.usageError("purr", (error as? ConfigError)?.message ?? "\(error)")
        }
        let signals = SignalWatcher()
        let engine = TunnelEngine(logger: Logger(label: "purr"))
        var failures = 0
        for tunnel in chosen {
            let opened = try engine.add(tunnel)
            let state = await opened.open()
            if state == .listening {
                CommandLineSupport.printLine("\(tunnel.name): listening on \(opened.snapshot.boundAddresses.joined(separator: ", "))")
            } else {
                failures += 1
                CommandLineSupport.printError("purr: \(tunnel.name): \(state)")
            }
        }
        if failures == chosen.count {
            await engine.shutdown()
            Foundation.exit(1)
        }
        _ = await signals.wait()
        await engine.shutdown()
        Foundation.exit(0)
    }
}
