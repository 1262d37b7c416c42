import ArgumentParser
import Foundation
import PurrCore

@main
struct Purr: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purr",
        abstract: "The Purr client: TCP tunnels through a Purr server over HTTP.",
        discussion: """
            purr listens on local TCP ports; each connection accepted there becomes an HTTP/1.1 upgrade \
            request to a Purr server (http:// or https:// URLs; ws:// or wss:// for a real WebSocket), \
            which connects it to the target of the URL's route. purr connect runs one tunnel in the \
            foreground, purr up the tunnels of a tunnels.toml, purr expose publishes a local service \
            through the server (a reverse tunnel), purr stdio relays one connection to standard input \
            and output (ssh ProxyCommand), purr native-host is the browser extension's host. purr-tui \
            runs the same engine behind a screen.

            Files: $XDG_CONFIG_HOME/purr/tunnels.toml (else ~/.config/purr/tunnels.toml), read by purr \
            up, purr native-host and purr-tui: [[tunnels]] whose keys are the purr connect options of the \
            same name (name, url, listen, token, headers, proxy, proxy_auth, upgrade, ping_interval, \
            ca_file, insecure, early_data, pool, pool_refresh, idle_timeout, autostart; mode, allow, \
            proxy_user, proxy_password for a dynamic tunnel), [[servers]] (admin streams purr-tui \
            watches), [browser] allowed_origins, theme. Keep it chmod 600 when it holds tokens.

            Environment: PURR_TOKEN (the route's token, when neither --token nor --token-file is given); \
            HTTP_PROXY, HTTPS_PROXY and NO_PROXY, or their lower-case forms (the proxy, unless --proxy); \
            PURR_PROXY_PASSWORD (a dynamic tunnel's local password); NTLM_USER_FILE (NTLM credentials \
            for gss-ntlmssp); XDG_CONFIG_HOME.

            Each connection is logged to standard error (open; close with bytes up and down; failed with \
            the reason). SIGINT and SIGTERM close everything; SIGHUP makes purr up read its file again.

            Exit status: 0 after SIGINT or SIGTERM; 1 when the tunnel cannot listen or fails (purr up: \
            when none of its tunnels opens); 2 for a bad flag or config file, with one line naming it.

            Reference: docs/client.md and docs/browser.md in the source tree.
            """,
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
