import ArgumentParser
import Foundation
import PurrCore

@main
struct Purr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purr",
        abstract: "The Purr client: TCP tunnels through a Purr server over HTTP.",
        version: PurrVersion.current,
        subcommands: [Connect.self, Up.self, Stdio.self, Expose.self, NativeHostCommand.self]
    )

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        // A browser starts a native host as `purr chrome-extension://ID/` (Chrome) or
        // `purr /path/manifest.json ID` (Firefox): both mean native-host.
        // Which extension started us is kept: only its pages count as the extension's.
        if let first = arguments.first, first.hasPrefix("chrome-extension://") {
            arguments = ["native-host", "--caller", first]
        } else if let first = arguments.first, first.hasSuffix(".json") {
            arguments = ["native-host", "--caller", "firefox:\(arguments.dropFirst().first ?? "")"]
        }
        do {
            var command = try parseAsRoot(arguments)
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .success {
                CommandLineSupport.printLine(fullMessage(for: error))
                ProcessExit.success.exit()
            }
            CommandLineSupport.usageError("purr", CommandLineSupport.firstLine(message(for: error)))
        }
    }
}
