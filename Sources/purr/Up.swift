import ArgumentParser
import Foundation
import Logging
import PurrClient
import PurrCore

/// `purr up`: the config file's tunnels, headless.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the tunnels of a tunnels.toml (the autostart ones, or those named) until a signal.",
        discussion: """
            Prints 'NAME: listening on ADDRESS' for each tunnel. SIGHUP reads the file again: tunnels \
            whose settings changed are reopened (their connections end), unchanged ones keep their \
            connections, tunnels no longer chosen are closed, new ones are opened; a file that does not \
            load changes nothing and logs one line. The systemd user unit purr-up.service runs it.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The tunnels file (default $XDG_CONFIG_HOME/purr/tunnels.toml).", valueName: "file"))
    var config: String?

    @Argument(help: "Tunnel names to open (default: every tunnel with autostart = true).")
    var names: [String] = []

    @OptionGroup var threads: ThreadOptions

    @OptionGroup var log: LogOptions

    func run() async throws {
        // SIGHUP reloads the file; from here on it never ends the process.
        ProcessLifecycle.ignoreUntilTrapped([.hangUp])
        let file = config ?? TunnelsFile.defaultPath()
        let chosen: [TunnelConfig]
        let threadCount: Int?
        do {
            chosen = try choose(from: file)
            threadCount = try threads.checked()
            try log.bootstrap(default: .info)
        } catch {
            CommandLineSupport.usageError("purr", error.message)
        }
        let logger = Logger(label: "purr")
        let engine = TunnelEngine(threads: threadCount, logger: logger)
        var tunnels: [Tunnel] = []
        for tunnel in chosen { tunnels.append(try engine.add(tunnel)) }
        let opening = tunnels
        let command = self
        do {
            try await ProcessLifecycle.run(
                reload: { await command.reload(file: file, engine: engine) }, logger: logger,
                start: { await Self.open(opening, engine: engine) },
                stop: { await engine.shutdown() })
        } catch {
            await engine.shutdown()
            CommandLineSupport.runtimeError("purr", "\(error)")
        }
        ProcessExit.success.exit()
    }

    /// Opens the chosen tunnels, a line for each; when none opens there is nothing to run.
    static func open(_ tunnels: [Tunnel], engine: TunnelEngine) async {
        var failures = 0
        for tunnel in tunnels {
            let state = await tunnel.open()
            if state == .listening, let reverse = tunnel.snapshot.reverse {
                CommandLineSupport.printLine("\(tunnel.config.name): registering as \(reverse.name) at \(tunnel.config.url.redacted)")
            } else if state == .listening {
                CommandLineSupport.printLine(
                    "\(tunnel.config.name): listening on \(tunnel.snapshot.boundAddresses.joined(separator: ", "))")
            } else {
                failures += 1
                CommandLineSupport.printError("purr: \(tunnel.config.name): \(state)")
            }
        }
        if failures == tunnels.count {
            await engine.shutdown()
            ProcessExit.failure.exit()
        }
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
