import PurrCore

/// Where a tunnel listens locally. `localhost:PORT` means both 127.0.0.1 and ::1 on one port,
/// like the original client; port 0 picks a free one.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ConfigError) {
        let parsed = try HostPort(parsing: text, allowZeroPort: true)
        host = parsed.host
        port = parsed.port
    }

    /// The concrete hosts to bind, in order (the first decides the port when it is 0).
    public var bindHosts: [String] {
        host.lowercased() == "localhost" ? ["127.0.0.1", "::1"] : [host]
    }

    public var isLoopback: Bool { HostPort(host: host, port: port).isLoopback }

    public var description: String { HostPort(host: host, port: port).description }
}
