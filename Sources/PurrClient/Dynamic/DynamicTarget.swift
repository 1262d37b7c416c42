import PurrCore

/// The target one proxy request names: a host (a name, or an IPv4 or IPv6 literal) and a port.
public struct DynamicTarget: Sendable, Equatable, CustomStringConvertible {
    /// As the client sent it for names (the server resolves them); the canonical text for addresses.
    public let host: String
    public let port: Int
    public let parsed: TargetHost?

    /// nil unless `host` is an IPv4 or IPv6 literal or an RFC 1123 name: whatever a client names reaches
    /// logs and a URL path, so `..`, controls or spaces never get that far.
    public init?(host: String, port: Int) {
        // A rooted name (`db.internal.`) is a name: its last dot is not a label of its own.
        let name = host.hasSuffix(".") && host.count > 1 ? host.dropLast() : host[...]
        guard !host.isEmpty, host.utf8.count <= 255, (1...65535).contains(port), let parsed = TargetHost(name) else { return nil }
        switch parsed {
        case .ipv4, .ipv6: self.host = parsed.description
        case .name: self.host = host
        }
        self.port = port
        self.parsed = parsed
    }

    public var hostPort: HostPort { HostPort(host: host, port: port) }

    /// `host:port`, IPv6 in brackets: for logs, the Connections pane and the allow list.
    public var description: String {
        if case .ipv6 = parsed { return "[\(host)]:\(port)" }
        return "\(host):\(port)"
    }

    /// Parses `host:port` or `[v6]:port` (an HTTP CONNECT's authority); `defaultPort` when none is given.
    public init?(authority text: Substring, defaultPort: Int? = nil) {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":" else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        } else {
            host = text
        }
        let port: Int?
        if let portText { port = AllowList.port(portText) } else { port = defaultPort }
        guard let port, host.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
        self.init(host: String(host), port: port)
    }

    /// The tunnel's URL path with `{host}` and `{port}` filled, percent-encoded: a name or an address
    /// stays as it is (IPv6 with its colons, which a path segment may hold), anything else is encoded.
    public func fill(_ template: String) -> String {
        template.replacingAll("{host}", with: Self.percentEncoded(host)).replacingAll("{port}", with: String(port))
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let keep =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || "-._~:".utf8.contains(byte)
            if keep {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
