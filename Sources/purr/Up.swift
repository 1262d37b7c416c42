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
        // SIGHUP reloads the file; from here on it never ends the process.
        let hangups = SignalStream(SIGHUP)
        let file = config ?? TunnelsFile.defaultPath()
        let chosen: [TunnelConfig]
        do {
            chosen = try choose(from: file)
            try log.bootstrap(default: .info)
        } catch {
            CommandLineSupport.usageError("purr", error.message)
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
        let command = self
        let reloads = Task {
            for await _ in hangups.signals { await command.reload(file: file, engine: engine) }
        }
        _ = await signals.wait()
        reloads.cancel()
        await engine.shutdown()
        Foundation.exit(0)
    }

    /// The tunnels to open: the named ones, or every autostart one.
    func choose(from file: String) throws(ConfigError) -> [TunnelConfig] {
        let contents = try TunnelsFile.load(file: file)
        if contents.holdsSecrets { SecretFileCheck.warn(file, program: "purr") }
        let tunnels = contents.tunnels
        if names.isEmpty {
            let chosen = tunnels.filter(\.autostart)
            if chosen.isEmpty { throw ConfigError("\(file): no tunnel has autostart = true; name the ones to open") }
            return chosen
        }
        return try names.map { name throws(ConfigError) in
            guard let found = tunnels.first(where: { $0.name == name }) else {
                throw ConfigError("\(file): no tunnel named '\(name)'")
            }
            return found
        }
    }

    /// SIGHUP: reads the file again; changed tunnels are reopened, unchanged ones keep their
    /// connections, removed ones are closed, new ones opened. A bad file changes nothing.
    func reload(file: String, engine: TunnelEngine) async {
        let logger = Logger(label: "purr")
        let wanted: [TunnelConfig]
        do {
            wanted = try choose(from: file)
        } catch {
            logger.error("reload failed, keeping the open tunnels", metadata: ["reason": "\(error.message)"])
            return
        }
        let summary = await engine.reconcile(to: wanted)
        for name in summary.opened + summary.reopened {
            if let snapshot = engine.snapshot(of: name), snapshot.state == .listening {
                CommandLineSupport.printLine("\(name): listening on \(snapshot.boundAddresses.joined(separator: ", "))")
            }
        }
        for (name, state) in summary.failed { CommandLineSupport.printError("purr: \(name): \(state)") }
        logger.notice(
            "reloaded",
            metadata: [
                "unchanged": "\(summary.unchanged.count)", "reopened": "\(summary.reopened.joined(separator: ","))",
                "opened": "\(summary.opened.joined(separator: ","))", "closed": "\(summary.closed.joined(separator: ","))",
            ])
    }
}
