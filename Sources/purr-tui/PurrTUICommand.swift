import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrClient
import PurrCore
import PurrDemo
import PurrTUI

@main
struct PurrTUICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purr-tui",
        abstract: "Manage Purr tunnels and watch their traffic in the terminal.",
        discussion: """
            Lists the tunnels of tunnels.toml with live byte counters, rates, a sparkline and connection \
            states; opens, closes, adds, edits and deletes them (changes are saved to the file at once); \
            shows the connections of the selected tunnel joined with the server's record of each, a \
            throughput graph, the servers of [[servers]] (their admin streams) and an event log. Try it \
            with no setup at all: purr-tui --demo.

            Keys (? shows them on screen): arrows or j k move, Enter or Space opens or closes, a adds, \
            e edits, d deletes, Tab moves between panes, / filters, s and S sort, r switches the graph \
            between 60 s and 10 min, t the theme, q quits. The mouse selects, sorts by a column title and \
            scrolls.

            Themes: default, light, solarized-dark, mono, or NAME.theme in $XDG_CONFIG_HOME/purr/themes \
            (shipped ones are found in ../share/purr/themes beside the binary, or $PURR_THEMES_DIR); with \
            NO_COLOR set the theme is mono.

            It needs a terminal: with standard input or output not a tty it exits 2 after checking its \
            flags, config and theme, as it does for any bad flag, file or theme. SIGINT, SIGTERM and \
            SIGHUP close the tunnels and restore the terminal. Reference: docs/tui.md in the source tree.
            """,
        version: PurrVersion.current
    )

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The tunnels file (default $XDG_CONFIG_HOME/purr/tunnels.toml; a missing default file means no tunnels yet).", valueName: "file"
        ))
    var config: String?

    @Option(name: .long, help: "Theme name (default, light, solarized-dark, mono, or one in $XDG_CONFIG_HOME/purr/themes).")
    var theme: String?

    @Flag(name: .long, help: "Start a server, targets and tunnels in-process and show them (no config needed).")
    var demo = false

    @Option(name: .long, help: ArgumentHelp("Write the engine's logs to this file (the screen is the TUI's).", valueName: "file"))
    var logFile: String?

    static func main() async {
        let command: PurrTUICommand
        do {
            command = try parse(nil)
        } catch {
            if exitCode(for: error) == .success {
                CommandLineSupport.printLine(fullMessage(for: error))
                ProcessExit.success.exit()
            }
            CommandLineSupport.usageError("purr-tui", CommandLineSupport.firstLine(message(for: error)))
        }
        await command.start()
    }

    func start() async {
        let environment = ProcessInfo.processInfo.environment
        do {
            try bootstrapLogging()
        } catch {
            CommandLineSupport.usageError("purr-tui", error.message)
        }
        let path = config ?? TunnelsFile.defaultPath(environment: environment)
        var file = TunnelsFile()
        if !demo {
            if config != nil || FileManager.default.fileExists(atPath: path) {
                do { file = try TunnelsFile.load(file: path) } catch { CommandLineSupport.usageError("purr-tui", error.message) }
            }
        }
        let colorsAllowed = (environment["NO_COLOR"] ?? "").isEmpty
        let themes = ThemeLibrary(environment: environment)
        let chosenTheme: Theme
        do {
            chosenTheme = try themes.load(theme ?? file.theme ?? "default")
        } catch {
            CommandLineSupport.usageError("purr-tui", error.message)
        }
        // After the checks that need no screen (a bad flag or file is the better message), before anything
        // starts: ncurses on a pipe waited silently for input that never came.
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            CommandLineSupport.usageError("purr-tui", "needs a terminal (stdin and stdout must be a tty)")
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let logger = Logger(label: "purr-tui")
        let engine = TunnelEngine(group: group, logger: logger, environment: environment)
        var demoEnvironment: DemoEnvironment?
        if demo {
            do {
                demoEnvironment = try await DemoEnvironment.start(group: group, engine: engine, logger: logger)
                file = demoEnvironment!.file
            } catch {
                CommandLineSupport.runtimeError("purr-tui", "cannot start the demo: \(error)")
            }
        } else {
            for tunnel in file.tunnels {
                do { try engine.add(tunnel) } catch { CommandLineSupport.usageError("purr-tui", "\(path): \(error.message)") }
                if tunnel.autostart { Task { await engine.open(tunnel.name) } }
            }
        }
        var streams: [AdminStream] = []
        for server in file.servers {
            do {
                streams.append(
                    try AdminStream(
                        name: server.name, adminURL: server.adminURL, token: server.token, caFile: server.caFile,
                        insecure: server.insecure, group: group))
            } catch {
                CommandLineSupport.usageError("purr-tui", "\(path): servers: \(server.name): \(error.message)")
            }
        }
        for stream in streams { stream.start() }

        // Before the screen starts: ncurses takes over these signals unless they are ignored; the group traps them.
        let stopSignals: [ProcessLifecycle.StopSignal] = [.interrupt, .terminate, .hangUp]
        ProcessLifecycle.ignoreUntilTrapped(stopSignals)
        let terminal = NCursesTerminal(colorsAllowed: colorsAllowed)
        let controller = TUIController(
            engine: engine, file: file, configPath: demo ? nil : path, streams: streams, themes: themes, theme: chosenTheme,
            colorsAvailable: terminal.hasColors)
        let app = TUIApp(controller: controller, terminal: terminal)
        // The user quitting ends the screen's service, and with it the group; a signal ends both the same way.
        do {
            try await ProcessLifecycle.run(stopOn: stopSignals, services: [TUIService(app: app)], logger: logger)
        } catch {
            logger.error("stopped by a failure", metadata: ["reason": "\(error)"])
        }
        for stream in streams { await stream.stop() }
        await engine.shutdown()
        await demoEnvironment?.stop()
        try? await group.shutdownGracefully()
        ProcessExit.success.exit()
    }

    func bootstrapLogging() throws(ConfigError) {
        guard let logFile else {
            LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
            return
        }
        // Never closed: the queue's writer thread writes to it for the life of the process.
        let descriptor = open(logFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ConfigError("--log-file: cannot write \(logFile)") }
        CommandLineSupport.bootstrapLogging(level: .info, queue: LogQueue(descriptor: descriptor))
    }
}
