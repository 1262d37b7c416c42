import ArgumentParser
import Foundation
import Logging
import PurrClient
import PurrCore

/// `purr native-host`: the browser extension's Native Messaging host.
struct NativeHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "native-host",
        abstract: "Speak the original Purr extension's Native Messaging protocol on standard input/output.",
        discussion: "With --manifest chrome|firefox, print the browser manifest for this binary instead."
    )

    @Option(name: .long, help: "Print the Native Messaging manifest for 'chrome' or 'firefox' and exit.")
    var manifest: String?

    @Option(name: .long, help: "The extension's ID for the manifest.")
    var extensionID: String = "purr@example.org"

    @OptionGroup var log: LogOptions

    func run() async throws {
        if let manifest {
            let path = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.resolvingSymlinksInPath().path
            do {
                CommandLineSupport.printLine(try NativeHost.manifest(browser: manifest, path: path, extensionID: extensionID))
            } catch {
                CommandLineSupport.usageError("purr", error.message)
            }
            Foundation.exit(0)
        }
        do { try log.bootstrap(default: .warning) } catch { CommandLineSupport.usageError("purr", error.message) }
        let engine = TunnelEngine(logger: Logger(label: "purr-native-host"))
        let output = FileHandle.standardOutput
        let host = NativeHost(engine: engine) { frame in output.write(Data(frame)) }
        for await frame in Self.frames() {
            switch frame {
            case .message(let bytes):
                if await host.handle(bytes) == .exit { Foundation.exit(0) }
            case .end:
                await engine.shutdown()
                Foundation.exit(0)
            case .truncated(let expected, let got):
                CommandLineSupport.printError("purr: native-host: input ended inside a message (\(got) of \(expected) bytes)")
                await engine.shutdown()
                Foundation.exit(1)
            case .tooLong(let length):
                CommandLineSupport.printError(
                    "purr: native-host: message of \(length) bytes is over the \(NativeMessageFramer.maxMessageSize)-byte limit")
                let error = try JSONSerialization.data(withJSONObject: ["error": "message too long", "dst": NSNull(), "seq": NSNull()])
                output.write(Data(NativeMessageFramer.frame(Array(error))))
                await engine.shutdown()
                Foundation.exit(1)
            }
        }
    }

    /// Frames read from standard input on a thread of their own (reads block).
    static func frames() -> AsyncStream<NativeMessageFramer.ReadResult> {
        AsyncStream { continuation in
            let thread = Thread {
                let input = FileHandle.standardInput
                while true {
                    let result = NativeMessageFramer.readFrame { count in
                        var bytes: [UInt8] = []
                        while bytes.count < count {
                            let chunk = input.readData(ofLength: count - bytes.count)
                            if chunk.isEmpty { break }
                            bytes += chunk
                        }
                        return bytes
                    }
                    continuation.yield(result)
                    if case .message = result { continue }
                    continuation.finish()
                    return
                }
            }
            thread.start()
        }
    }
}
