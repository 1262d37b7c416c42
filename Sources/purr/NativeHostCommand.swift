import ArgumentParser
import Foundation
import Logging
import PurrClient
import PurrCore

/// `purr native-host`: the browser extension's Native Messaging host.
struct NativeHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "native-host",
        abstract: "Speak the Purr extension's Native Messaging protocol on standard input/output.",
        discussion: """
            The browser starts it (as 'purr chrome-extension://ID/' or 'purr MANIFEST.json ID', which purr \
            recognises) for the Purr extension: each message is a 4-byte little-endian length, then JSON \
            (open, close, status, tunnels; origins, allow, revoke, close-tab and exit for the extension's \
            popup). Pages may open tunnels only from an origin allowed in [browser] allowed_origins of \
            tunnels.toml (or with the popup's Allow).

            With --install chrome|chromium|firefox, write the browser's host manifest for this binary \
            (into --dir, or where that browser reads it) and exit; --uninstall removes it; --manifest \
            prints it. Reference: docs/browser.md in the source tree.
            """
    )

    @Option(name: .long, help: "Print the Native Messaging manifest for 'chrome', 'chromium' or 'firefox' and exit.")
    var manifest: String?

    @Option(name: .long, help: "Install the host manifest for 'chrome', 'chromium' or 'firefox' and exit.")
    var install: String?

    @Option(name: .long, help: "Remove the host manifest installed for 'chrome', 'chromium' or 'firefox' and exit.")
    var uninstall: String?

    @Option(name: .long, help: "With --install/--uninstall: the NativeMessagingHosts folder to use instead of the browser's own.")
    var dir: String?

    @Option(name: .long, help: "The extension's ID for the manifest (default: the Purr extension's).")
    var extensionID: String?

    @Option(name: .long, help: "The tunnels.toml whose [browser] allowed_origins applies (default: the usual place).")
    var config: String?

    /// What the browser passed when it started us (`chrome-extension://ID/`, or `firefox:ID`): which
    /// extension is on the other end.
    @Option(name: .long, help: .hidden)
    var caller: String?

    @OptionGroup var log: LogOptions

    func run() async throws {
        if manifest != nil || install != nil || uninstall != nil {
            do {
                try manageManifest()
            } catch {
                CommandLineSupport.usageError("purr", error.message)
            }
            ProcessExit.success.exit()
        }
        do { try log.bootstrap(default: .warning) } catch { CommandLineSupport.usageError("purr", error.message) }
        let engine = TunnelEngine(logger: Logger(label: "purr-native-host"))
        let output = FileHandle.standardOutput
        let host = NativeHost(
            engine: engine, tunnelsFile: config ?? TunnelsFile.defaultPath(), caller: NativeHostCaller(argument: caller)
        ) { frame in output.write(Data(frame)) }
        for await (frame, done) in Self.frames() {
            defer { done() }
            switch frame {
            case .message(let bytes):
                if await host.handle(bytes) == .exit { ProcessExit.success.exit() }
            case .end:
                await engine.shutdown()
                ProcessExit.success.exit()
            case .truncated(let expected, let got):
                // The browser closed our input: nobody is left to talk to.
                CommandLineSupport.printError("purr: native-host: input ended inside a message (\(got) of \(expected) bytes)")
                await engine.shutdown()
                ProcessExit.failure.exit()
            case .tooLong(let length):
                // Answered, then its body is read and dropped (by `frames`): the next frame is served as usual.
                let words = "message of \(length) bytes is over the \(NativeMessageFramer.maxMessageSize)-byte limit"
                CommandLineSupport.printError("purr: native-host: \(words); skipped")
                output.write(Data(NativeHost.errorFrame(words)))
            }
        }
    }

    /// `--manifest`, `--install`, `--uninstall`: exactly one of them.
    func manageManifest() throws(ConfigError) {
        let chosen = [("--manifest", manifest), ("--install", install), ("--uninstall", uninstall)].compactMap { flag, value in
            value.map { (flag, $0) }
        }
        guard chosen.count == 1, let (flag, name) = chosen.first else {
            throw ConfigError("use one of --manifest, --install and --uninstall at a time")
        }
        if dir != nil, flag == "--manifest" { throw ConfigError("--dir goes with --install or --uninstall") }
        let browser = try NativeHostManifest.Browser(parsing: name, flag: flag)
        let directory = dir ?? NativeHostManifest.directory(for: browser)
        switch flag {
        case "--uninstall":
            if let removed = try NativeHostManifest.uninstall(from: directory) {
                CommandLineSupport.printLine("removed \(removed)")
            } else {
                CommandLineSupport.printLine("nothing to remove: \(directory)/\(NativeHostManifest.hostName).json does not exist")
            }
        default:
            let document = NativeHostManifest(browser: browser, path: Self.executablePath, extensionID: extensionID)
            if flag == "--manifest" {
                CommandLineSupport.printLine(document.text)
            } else {
                let written = try document.install(in: directory)
                CommandLineSupport.printLine("wrote \(written):\n\(document.text)")
            }
        }
    }

    /// The absolute path of this binary, symlinks resolved (the browser starts it from anywhere).
    static var executablePath: String {
        let url = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return url.standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Frames read from standard input on a thread of their own (reads block), one at a time: the thread
    /// reads the next only after `done` (so a flood of input waits in the pipe, not in memory). An
    /// oversized frame's body is skipped after it is reported.
    static func frames() -> AsyncStream<(NativeMessageFramer.ReadResult, done: @Sendable () -> Void)> {
        AsyncStream { continuation in
            let thread = Thread {
                let input = FileHandle.standardInput
                let handled = DispatchSemaphore(value: 0)
                let read = { (count: Int) -> [UInt8] in
                    var bytes: [UInt8] = []
                    while bytes.count < count {
                        let chunk = input.readData(ofLength: count - bytes.count)
                        if chunk.isEmpty { break }
                        bytes += chunk
                    }
                    return bytes
                }
                while true {
                    let result = NativeMessageFramer.readFrame(read)
                    continuation.yield((result, { handled.signal() }))
                    handled.wait()
                    switch result {
                    case .message:
                        continue
                    case .tooLong(let length):
                        let skipped = NativeMessageFramer.skip(length, read)
                        if skipped == length { continue }
                        continuation.yield((.truncated(expected: length, got: skipped), {}))
                    case .end, .truncated:
                        break
                    }
                    continuation.finish()
                    return
                }
            }
            thread.start()
        }
    }
}
