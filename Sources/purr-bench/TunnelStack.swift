import Foundation

/// The tunneled path to one target: `purr connect` (client engine) → `purr-server` → target, each
/// program in its own process, all on loopback.
final class TunnelStack {
    let server: ChildProcess
    let client: ChildProcess
    /// Where the load generator connects: the client's listening port.
    let port: Int

    /// `scheme`: `http` for the original protocol, `ws` for a real WebSocket.
    init(binDir: String, targetPort: Int, label: String, scheme: String = "http") throws {
        let logDir = FileManager.default.temporaryDirectory.path
        server = try ChildProcess(
            "\(binDir)/purr-server",
            ["--listen", "127.0.0.1:0", "--route", "/t=127.0.0.1:\(targetPort)", "--log-level", "warning", "--drain-timeout", "0"],
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
            client = try ChildProcess(
                "\(binDir)/purr",
                ["connect", "\(scheme)://127.0.0.1:\(serverPort)/t", "--listen", "127.0.0.1:0", "--log-level", "warning"],
                logPath: "\(logDir)/purr-bench-\(label)-client.log"
            )
            port = try client.waitForPort(afterPrefix: "listening on ")
        } catch {
            server.stop()
            throw error
        }
    }

    func stop() {
        client.stop()
        server.stop()
    }
}
