/// The targets a dynamic route may reach: every target a template, token file, resolver, signed token
/// or application picks is checked against it before anything connects (403 `forbidden_target`). A
/// dynamic tunnel of the client (`mode = "socks5"`) checks its requests against one too, before it dials.
///
/// Entries are `HOST:PORTS`: HOST is an IPv4 or IPv6 CIDR (`10.0.0.0/8`, `[fd00::/8]`), an exact IP
/// (`127.0.0.1`, `[::1]`), an exact host name (`db.internal`), or `*.` and a domain (`*.vms.internal`:
/// any name that ends in `.vms.internal`, at any depth, not the domain itself); PORTS is a port, a range
/// (`5900-5999`) or `*`. Names match name entries only and addresses address entries only: a name is
/// never resolved to be checked.
public struct AllowList: Sendable, Equatable, CustomStringConvertible {
    public let rules: [Rule]

    public struct Rule: Sendable, Equatable, CustomStringConvertible {
        public enum Host: Sendable, Equatable {
            /// Address bytes and how many leading bits must match (IPv4: 4 bytes, IPv6: 16).
            case network([UInt8], prefix: Int)
            case name(String)
            /// `*.domain`: stored without the `*`, as `.domain`.
            case suffix(String)
        }

        public let host: Host
        public let ports: ClosedRange<Int>
        public let description: String

        public func allows(_ host: TargetHost, port: Int) -> Bool {
            guard ports.contains(port) else { return false }
            switch (self.host, host) {
            case (.network(let network, let prefix), .ipv4(let bytes)), (.network(let network, let prefix), .ipv6(let bytes)):
                return network.count == bytes.count && Self.prefixMatches(network, bytes, bits: prefix)
            case (.name(let name), .name(let candidate)):
                return name == candidate
            case (.suffix(let suffix), .name(let candidate)):
                return candidate.hasSuffix(suffix)
            default:
                return false
            }
        }

        static func prefixMatches(_ a: [UInt8], _ b: [UInt8], bits: Int) -> Bool {
            var left = bits
            for (x, y) in zip(a, b) where left > 0 {
                let mask: UInt8 = left >= 8 ? 0xff : ~(0xff >> UInt8(left))
                if x & mask != y & mask { return false }
                left -= 8
            }
            return true
        }
    }

    public init(rules: [Rule]) {
        self.rules = rules
    }

    /// Parses entries as written in `allow = [...]`; an error names the entry and what was expected.
    public init(_ entries: [String]) throws(ConfigError) {
        var rules: [Rule] = []
        for entry in entries { rules.append(try Self.rule(entry)) }
        guard !rules.isEmpty else { throw ConfigError("the allow list is empty: nothing could be reached") }
        self.rules = rules
    }

    public var description: String { rules.map(\.description).joined(separator: ", ") }

    public func allows(_ target: HostPort) -> Bool {
        guard let host = TargetHost(target.host) else { return false }
        return rules.contains { $0.allows(host, port: target.port) }
    }

    static func rule(_ entry: String) throws(ConfigError) -> Rule {
        let text = entry.trimmingASCIIWhitespace()
        let hostPart: String
        let portPart: String
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].first == ":" else {
                throw ConfigError("allow entry '\(text)': expected [IPV6]:PORTS or [IPV6/BITS]:PORTS")
            }
            hostPart = String(text[text.index(after: text.startIndex)..<close])
            portPart = String(text[text.index(close, offsetBy: 2)...])
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigError("allow entry '\(text)': expected HOST:PORTS (a port, a range like 5900-5999, or *)")
            }
            hostPart = String(text[..<colon])
            portPart = String(text[text.index(after: colon)...])
            if hostPart.contains(":") { throw ConfigError("allow entry '\(text)': write IPv6 addresses as [ADDRESS]:PORTS") }
        }
        let ports = try Self.ports(portPart, entry: text)
        return Rule(host: try Self.host(hostPart, entry: text), ports: ports, description: text)
    }

    static func host(_ text: String, entry: String) throws(ConfigError) -> Rule.Host {
        if let slash = text.firstIndex(of: "/") {
            let bitsText = text[text.index(after: slash)...]
            guard let address = TargetHost(text[..<slash]), let bits = Int(bitsText), bitsText.allSatisfy(\.isNumber) else {
                throw ConfigError("allow entry '\(entry)': '\(text)' is not an IP network like 10.0.0.0/8")
            }
            switch address {
            case .ipv4(let bytes) where bits <= 32: return .network(bytes, prefix: bits)
            case .ipv6(let bytes) where bits <= 128: return .network(bytes, prefix: bits)
            case .name: throw ConfigError("allow entry '\(entry)': '\(text)' is not an IP network like 10.0.0.0/8")
            default: throw ConfigError("allow entry '\(entry)': the prefix length /\(bits) is too long for that address")
            }
        }
        if text.hasPrefix("*.") {
            let domain = String(text.dropFirst(2))
            guard case .name(let name) = TargetHost(domain) else {
                throw ConfigError("allow entry '\(entry)': '\(domain)' after '*.' is not a host name")
            }
            return .suffix("." + name)
        }
        switch TargetHost(text) {
        case .ipv4(let bytes): return .network(bytes, prefix: 32)
        case .ipv6(let bytes): return .network(bytes, prefix: 128)
        case .name(let name): return .name(name)
        case nil:
            let hint = text.contains("*") ? " (a wildcard is only '*.' before a domain; for any address: 0.0.0.0/0 or [::/0])" : ""
            throw ConfigError("allow entry '\(entry)': '\(text)' is not an IP address, network or host name\(hint)")
        }
    }

    static func ports(_ text: String, entry: String) throws(ConfigError) -> ClosedRange<Int> {
        if text == "*" { return 1...65535 }
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { Self.port($0) }
        switch bounds.count {
        case 1: if let port = bounds[0] { return port...port }
        case 2: if let low = bounds[0], let high = bounds[1], low <= high { return low...high }
        default: break
        }
        throw ConfigError("allow entry '\(entry)': '\(text)' is not a port (1-65535), a range like 5900-5999, or *")
    }

    public static func port(_ text: Substring) -> Int? {
        guard (1...5).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text), (1...65535).contains(port)
        else { return nil }
        return port
    }
}
