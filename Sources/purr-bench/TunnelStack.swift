import Foundation

/// The tunneled path to one target: `purr connect` (client engine) → `purr-server` → target, each
/// program in its own process, all on loopback.
final class TunnelStack {
    let server: ChildProcess
    let client: ChildProcess
    /// Where the load generator connects: the client's listening port.
    let port: Int

    /// `scheme`: `http` for the original protocol, `ws` for a real WebSocket.
    /// `pool`: connections the client keeps connected ahead of use (0: none).
    /// `logLevel`: what both programs log (the bench's default, `warning`, keeps per-connection lines out).
    /// `threads`: both programs' `--threads` (nil: their default, one event loop per core).
    init(
        binDir: String, targetPort: Int, label: String, scheme: String = "http", pool: Int = 0, logLevel: String = "warning",
        threads: Int? = nil
    ) throws {
        let logDir = FileManager.default.temporaryDirectory.path
        let threadArguments = threads.map { ["--threads", "\($0)"] } ?? []
        server = try ChildProcess(
            "\(binDir)/purr-server",
            [
                "--listen", "127.0.0.1:0", "--route", "/t=127.0.0.1:\(targetPort)", "--log-level", logLevel, "--drain-timeout", "0",
                // The bench measures holding many, not the default limit (4096) that answers 503 beyond it;
                // every connection comes from one address, so no per-peer limit either.
                "--max-connections", "100000", "--max-connections-per-peer", "0",
            ] + threadArguments,
            logPath: "\(logDir)/purr-bench-\(label)-server.log"
        )
        let serverPort: Int
        do {
            serverPort = try server.waitForPort(afterPrefix: "listening on ")
        } catch {
            server.stop()
            throw error
        }
        do {
            client = try Self.startClient(
                logLevel: logLevel, extra: threadArguments,
                binDir: binDir, url: "\(scheme)://127.0.0.1:\(serverPort)/t", label: label, pool: pool, logDir: logDir)
            port = try client.waitForPort(afterPrefix: pool > 0 ? "bench: listening on " : "listening on ")
        } catch {
            server.stop()
            throw error
        }
    }

    /// `purr connect URL`; with a warm pool, `purr up` on a tunnels file that says `pool = N`
    /// (the setting a user writes).
    private static func startClient(
        logLevel: String, extra: [String], binDir: String, url: String, label: String, pool: Int, logDir: String
    ) throws -> ChildProcess {
        let logPath = "\(logDir)/purr-bench-\(label)-client.log"
        guard pool > 0 else {
            return try ChildProcess(
                "\(binDir)/purr", ["connect", url, "--listen", "127.0.0.1:0", "--log-level", logLevel] + extra, logPath: logPath)
        }
        let file = "\(logDir)/purr-bench-\(label)-tunnels.toml"
        let toml = """
            [[tunnels]]
            name = "bench"
            url = "\(url)"
            listen = "127.0.0.1:0"
            autostart = true
            pool = \(pool)

            """
        try toml.write(toFile: file, atomically: true, encoding: .utf8)
        return try ChildProcess("\(binDir)/purr", ["up", "--config", file, "--log-level", logLevel] + extra, logPath: logPath)
    }

    func stop() {
        client.stop()
        server.stop()
    }
}
