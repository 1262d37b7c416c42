import ArgumentParser
import Foundation
import PurrCore
import PurrServer

/// `purr-server drain`: asks a running server, through its admin endpoint, to drain (`POST /drain`).
struct DrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Ask a running purr-server to drain, through its admin endpoint (POST /drain).",
        discussion: """
            The server keeps listening but answers every new upgrade 503 with Retry-After and the body \
            'draining' (clients with another server go there at once; GET /healthz answers 503 so a \
            load balancer takes it out), lets live relays finish, and exits when the last one ends or \
            after its --drain-timeout. The same as sending it SIGTERM, for a server you cannot signal.

            The admin endpoint must have a token (--admin-token, admin.token or PURR_ADMIN_TOKEN on \
            the server): give it with --admin-token-file or PURR_ADMIN_TOKEN here. Plain HTTP only.

            Prints one line: what the server did and how many relays were live.

            Exit status: 0 the server is draining (now or already); 1 it could not be reached or \
            refused (the line says why); 2 a bad flag or an unreadable token file.

            Example:
              purr-server drain --admin 127.0.0.1:9090 --admin-token-file /etc/purr/admin.token
            """)

    @Option(name: .long, help: ArgumentHelp("The server's admin endpoint, HOST:PORT.", valueName: "host:port"))
    var admin: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A file whose first line is the admin token (default: PURR_ADMIN_TOKEN).", valueName: "file"))
    var adminTokenFile: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for the answer (default 10).", valueName: "seconds"))
    var timeout: Double = 10

    func run() throws {}

    /// Sends the request and ends the process with the line and the exit status.
    func send() async -> Never {
        let address: HostPort
        do {
            address = try HostPort(parsing: admin)
        } catch {
            CommandLineSupport.usageError("purr-server drain", "--admin: \(error.message)")
        }
        guard timeout > 0, timeout <= 3600 else {
            CommandLineSupport.usageError("purr-server drain", "--timeout: \(timeout) is out of range 0...3600 seconds")
        }
        let token: String?
        do {
            token = try chosenToken(environment: ProcessInfo.processInfo.environment)
        } catch {
            CommandLineSupport.usageError("purr-server drain", error.message)
        }
        let answer: AdminDrainClient.Answer
        do {
            answer = try await AdminDrainClient.post(to: address, token: token, timeout: timeout)
        } catch {
            CommandLineSupport.runtimeError("purr-server drain", "\(admin): \(error)")
        }
        guard answer.status == 200 else {
            CommandLineSupport.runtimeError("purr-server drain", "\(admin): refused: \(answer.status) \(answer.body)")
        }
        guard let started = try? AdminJSON.decoder().decode(DrainStart.self, from: Data(answer.body.utf8)) else {
            CommandLineSupport.runtimeError("purr-server drain", "\(admin): the answer is not a drain report: \(answer.body)")
        }
        CommandLineSupport.printLine("\(admin): \(started.line)")
        ProcessExit.success.exit()
    }

    /// `--admin-token-file`'s first line, or `PURR_ADMIN_TOKEN`; checked as the server checks its token.
    func chosenToken(environment: [String: String]) throws(ConfigError) -> String? {
        let found: (source: String, value: String)
        if let file = adminTokenFile {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigError("--admin-token-file \(file): cannot read: \(TOMLReader.describe(error))")
            }
            found = ("--admin-token-file \(file)", String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""))
        } else if let value = environment["PURR_ADMIN_TOKEN"], !value.isEmpty {
            found = ("PURR_ADMIN_TOKEN", value)
        } else {
            return nil
        }
        let value = found.value.trimmingCharacters(in: .whitespaces)
        if value.isEmpty { throw ConfigError("\(found.source): is empty") }
        guard HeadValidation.isToken68(value) else { throw ConfigError("\(found.source): \(HeadValidation.notToken68)") }
        return value
    }
}
