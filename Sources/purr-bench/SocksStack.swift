import Foundation

/// A dynamic tunnel and a fixed one side by side on one `purr-server`: `purr connect --socks5` to a
/// template route (`/d/{host}/{port}`, allow `127.0.0.1:*`) and `purr connect` to a fixed route to the
/// same target, each program in its own process, all on loopback. One server for both, so the ratio
/// is the dynamic tunnel's own cost and not a second server's scheduling on a small machine.
/// `connectOnce` speaks SOCKS5 as a client that waits for each reply does (curl, python-socks).
final class SocksStack {
    let server: ChildProcess
    let socksClient: ChildProcess
    let fixedClient: ChildProcess
    /// Where the load generator connects: the SOCKS5 port, and the fixed tunnel's port.
    let port: Int
    let fixedPort: Int

    init(binDir: String, target: Int, label: String, logLevel: String = "warning") throws {
        let logDir = FileManager.default.temporaryDirectory.path
        let config = "\(logDir)/purr-bench-\(label)-server.toml"
        let toml = """
            [[routes]]
            path = "/d/{host}/{port}"
            target = "{host}:{port}"
            allow = ["127.0.0.1:*"]

            """
        try toml.write(toFile: config, atomically: true, encoding: .utf8)
        server = try ChildProcess(
            "\(binDir)/purr-server",
            [
                "--listen", "127.0.0.1:0", "--config", config, "--route", "/f=127.0.0.1:\(target)", "--log-level", logLevel,
                "--drain-timeout", "0", "--max-connections", "100000", "--max-connections-per-peer", "0",
            ],
            logPath: "\(logDir)/purr-bench-\(label)-server.log"
        )
        var started: [ChildProcess] = []
        do {
            let serverPort = try server.waitForPort(afterPrefix: "listening on ")
            func client(_ arguments: [String], _ name: String) throws -> ChildProcess {
                let process = try ChildProcess(
                    "\(binDir)/purr", ["connect"] + arguments + ["--listen", "127.0.0.1:0", "--log-level", logLevel],
                    logPath: "\(logDir)/purr-bench-\(label)-\(name).log")
                started.append(process)
                return process
            }
            socksClient = try client(["--socks5", "http://127.0.0.1:\(serverPort)/d/{host}/{port}"], "socks5")
            port = try socksClient.waitForPort(afterPrefix: "listening on ")
            fixedClient = try client(["http://127.0.0.1:\(serverPort)/f"], "fixed")
            fixedPort = try fixedClient.waitForPort(afterPrefix: "listening on ")
        } catch {
            for process in started { process.stop() }
            server.stop()
            throw error
        }
    }

    /// Connect to the SOCKS5 port, greeting (no authentication) and its answer, CONNECT 127.0.0.1:`target`
    /// and its reply, then one byte echoed, close: nanoseconds. `pipelined`: greeting, CONNECT and the
    /// byte in one write, the answers read after (what the protocol itself costs beyond its round trips).
    static func connectOnce(port: Int, target: Int, pipelined: Bool = false) throws -> UInt64 {
        let start = Clock.nanos()
        let socket = try Socket.connect(port: port, timeout: 5)
        defer { socket.close() }
        let greeting: [UInt8] = [5, 1, 0]
        let request: [UInt8] = [5, 1, 0, 1, 127, 0, 0, 1, UInt8(target >> 8), UInt8(target & 0xFF)]
        if pipelined { try send(socket, greeting + request + [0x2a]) } else { try send(socket, greeting) }
        guard try receive(socket, count: 2) == [5, 0] else { throw BenchError("SOCKS5 greeting refused") }
        if !pipelined { try send(socket, request) }
        let reply = try receive(socket, count: 10)
        guard reply[1] == 0 else { throw BenchError("SOCKS5 CONNECT refused with code \(reply[1])") }
        if !pipelined { try socket.sendByte(0x2a) }
        guard try socket.receiveByte() == 0x2a else { throw BenchError("echo lost or changed its byte") }
        return Clock.nanos() - start
    }

    private static func send(_ socket: Socket, _ bytes: [UInt8]) throws {
        var failure: (any Error)?
        bytes.withUnsafeBytes { raw in
            do { try socket.sendAll(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Exactly `count` bytes (an IPv4 reply is 10 bytes: the bench's targets are IPv4).
    private static func receive(_ socket: Socket, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: (any Error)?
        bytes.withUnsafeMutableBytes { raw in
            do { try socket.receiveExactly(into: raw) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    func stop() {
        socksClient.stop()
        fixedClient.stop()
        server.stop()
    }
}
