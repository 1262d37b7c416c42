import NIOCore

/// A `HOST:PORT` or `[IPv6]:PORT` address, as written in flags and config files.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port`; `allowZeroPort` lets a listener ask for any free port.
    public init(parsing text: String, allowZeroPort: Bool = false) throws(ConfigError) {
        let trimmed = text.trimmingASCIIWhitespace()
        let hostPart: Substring
        let portPart: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else {
                throw ConfigError("'\(trimmed)': missing ']' after the IPv6 address")
            }
            hostPart = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.first == ":" else { throw ConfigError("'\(trimmed)': expected ':PORT' after ']'") }
            portPart = rest.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw ConfigError("'\(trimmed)': expected HOST:PORT")
            }
            hostPart = trimmed[..<colon]
            portPart = trimmed[trimmed.index(after: colon)...]
            if hostPart.contains(":") {
                throw ConfigError("'\(trimmed)': write IPv6 addresses as [ADDRESS]:PORT")
            }
        }
        guard !hostPart.isEmpty else { throw ConfigError("'\(trimmed)': the host is empty") }
        guard hostPart.count <= 253 else { throw ConfigError("the host is longer than 253 characters") }
        guard hostPart.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._:%".contains($0)) }) else {
            throw ConfigError("'\(trimmed)': the host '\(hostPart)' has characters a host name cannot have")
        }
        guard let port = Int(portPart), port >= (allowZeroPort ? 0 : 1), port <= 65535 else {
            let range = allowZeroPort ? "0-65535" : "1-65535"
            throw ConfigError("'\(trimmed)': the port must be a number \(range)")
        }
        self.host = String(hostPart)
        self.port = port
    }

    /// Whether the host is a loopback address (parsed, not compared as text: `127.1.2.3`, `::1`,
    /// `::ffff:127.0.0.1`) or the name `localhost`. Any other name is not: what it resolves to can change.
    public var isLoopback: Bool {
        if host.lowercased() == "localhost" { return true }
        guard let address = try? SocketAddress(ipAddress: host, port: 0) else { return false }
        return address.isLoopback
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
