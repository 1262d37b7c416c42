import Foundation

/// A dynamic tunnel to any loopback target: `purr connect --socks5` → `purr-server` with a template
/// route (`/d/{host}/{port}`, allow `127.0.0.1:*`), each program in its own process, all on loopback.
/// `connectOnce` speaks SOCKS5 as a client that waits for each reply does (curl, python-socks).
final class SocksStack {
    let server: ChildProcess
    let client: ChildProcess
    /// Where the load generator connects: the client's SOCKS5 port.
    let port: Int

    init(binDir: String, label: String, logLevel: String = "warning") throws {
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
                "--listen", "127.0.0.1:0", "--config", config, "--log-level", logLevel, "--drain-timeout", "0",
                "--max-connections", "100000", "--max-connections-per-peer", "0",
            ],
            logPath: "\(logDir)/purr-bench-\(label)-server.log"
        )
        do {
            let serverPort = try server.waitForPort(afterPrefix: "listening on ")
            client = try ChildProcess(
                "\(binDir)/purr",
                [
                    "connect", "--socks5", "http://127.0.0.1:\(serverPort)/d/{host}/{port}", "--listen", "127.0.0.1:0",
                    "--log-level", logLevel,
                ],
                logPath: "\(logDir)/purr-bench-\(label)-client.log")
            port = try client.waitForPort(afterPrefix: "listening on ")
        } catch {
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
        client.stop()
        server.stop()
    }
}
