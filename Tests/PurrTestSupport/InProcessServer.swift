import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrCore
import PurrServer

/// A purr-server running inside the test process on an ephemeral loopback port.
public enum InProcessServer {
    public static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    public static var quietLogger: Logger {
        var logger = Logger(label: "purr-test")
        logger.logLevel = .critical
        return logger
    }

    public static func start(
        routes: [Route],
        host: String = "127.0.0.1",
        headerTimeout: Double = 10,
        configure: (inout ServerConfig) -> Void = { _ in }
    ) async throws -> PurrServer {
        var config = ServerConfig()
        config.listen = HostPort(host: host, port: 0)
        config.routes = routes
        config.headerTimeout = headerTimeout
        configure(&config)
        let server = PurrServer(config: config, group: group, logger: quietLogger)
        try await server.start()
        return server
    }
}

extension BlockingSocket {
    /// Sends a Purr upgrade request and reads the answer head; returns the head and any bytes after it.
    public func upgrade(path: String, port: Int, token: String? = nil, upgrade: UpgradeProtocol = .purr, extra: [UInt8] = [])
        throws -> (head: String, rest: [UInt8])
    {
        let request = UpgradeRequest(path: path, host: "127.0.0.1:\(port)", upgrade: upgrade, token: token)
        try write(Array(request.encoded().utf8) + extra)
        return try readHead()
    }
}

extension BlockingSocket {
    /// A Purr upgrade on a new connection that the server refuses: its status and body (trimmed).
    public static func refusal(path: String, port: Int, token: String? = nil) throws -> (status: Int, body: String) {
        let socket = try BlockingSocket(port: port, timeout: 15)
        defer { socket.close() }
        try socket.write(UpgradeRequest(path: path, host: "127.0.0.1:\(port)", token: token).encoded())
        let answer = try socket.readResponse()
        return (answer.status, answer.body.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The body of `GET path` (an admin endpoint's `/stats` or `/metrics`) on a new connection.
    public static func get(_ path: String, port: Int) throws -> String {
        let socket = try BlockingSocket(port: port)
        defer { socket.close() }
        try socket.write("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
        return try socket.readResponse().body
    }
}
