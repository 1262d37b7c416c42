import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The soak's processes: `purr-server` with three routes and `purr up` with one tunnel to each.
/// Unchecked: worker threads read only the ports (constants); the processes are sampled and stopped
/// by the thread that runs the soak.
final class SoakSetup: @unchecked Sendable {
    let server: ChildProcess
    let client: ChildProcess
    let okPort: Int
    let failingPort: Int
    let refusedPort: Int

    init(binDir: String, echoPort: Int) throws {
        let logDir = FileManager.default.temporaryDirectory.path
        let deadPort = SoakSetup.closedPort()
        server = try ChildProcess(
            "\(binDir)/purr-server",
            [
                "--listen", "127.0.0.1:0", "--route", "/echo=127.0.0.1:\(echoPort)", "--route", "/dead=127.0.0.1:\(deadPort)",
                "--config",
                try SoakSetup.write(
                    "purr-bench-soak-server.toml",
                    "[[routes]]\npath = \"/auth\"\ntarget = \"127.0.0.1:\(echoPort)\"\ntoken = \"soak-secret\"\n"),
                "--log-level", "warning", "--drain-timeout", "0", "--max-connections-per-peer", "0",
            ],
            logPath: "\(logDir)/purr-bench-soak-server.log")
        let serverPort: Int
        do { serverPort = try server.waitForPort(afterPrefix: "listening on ") } catch {
            server.stop()
            throw error
        }
        let base = "http://127.0.0.1:\(serverPort)"
        let tunnels = [("ok", "/echo"), ("failing", "/dead"), ("refused", "/auth")].map { name, path in
            "[[tunnels]]\nname = \"\(name)\"\nurl = \"\(base)\(path)\"\nlisten = \"127.0.0.1:0\"\nautostart = true\n"
        }.joined(separator: "\n")
        do {
            client = try ChildProcess(
                "\(binDir)/purr",
                ["up", "--config", try SoakSetup.write("purr-bench-soak-tunnels.toml", tunnels), "--log-level", "warning"],
                logPath: "\(logDir)/purr-bench-soak-client.log")
            okPort = try client.waitForPort(afterPrefix: "ok: listening on ")
            failingPort = try client.waitForPort(afterPrefix: "failing: listening on ")
            refusedPort = try client.waitForPort(afterPrefix: "refused: listening on ")
        } catch {
            server.stop()
            throw error
        }
    }

    func sample(at seconds: Double) -> SoakWorkload.Sample {
        SoakWorkload.Sample(
            seconds: seconds, serverRSS: server.rss, clientRSS: client.rss, serverFDs: Self.openFiles(server.pid),
            clientFDs: Self.openFiles(client.pid))
    }

    func stop() {
        client.stop()
        server.stop()
    }

    static func openFiles(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    static func write(_ name: String, _ text: String) throws -> String {
        let path = "\(FileManager.default.temporaryDirectory.path)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The failing route's target: port 1 on loopback. Only root may listen there, and nothing does;
    /// a port picked free at start can be taken by another program later (the first 10-minute run
    /// saw 59 of its 1200 "failing" connections answered by someone else's listener).
    static func closedPort() -> Int { 1 }
}
