import Foundation
import PurrCore

/// A web origin that may open tunnels through the browser extension: `https://console.example.com`,
/// `http://127.0.0.1:8000`, or any port with `http://127.0.0.1:*`.
public struct OriginPattern: Sendable, Equatable, CustomStringConvertible {
    public enum Port: Sendable, Equatable {
        case any
        /// Nil for a scheme without a port (the default port is filled in for http and https).
        case exact(Int?)
    }

    public var scheme: String
    public var host: String
    public var port: Port

    public init(parsing text: String) throws(ConfigError) {
        guard let sep = text.range(of: "://") else {
            throw ConfigError("'\(text)': expected an origin like https://console.example.com or http://127.0.0.1:*")
        }
        let scheme = text[..<sep.lowerBound].lowercased()
        guard let first = scheme.first, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else {
            throw ConfigError("'\(text)': '\(scheme)' is not a URL scheme")
        }
        var authority = String(text[sep.upperBound...])
        if authority.hasSuffix("/") { authority.removeLast() }
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ ".contains($0) }) else {
            throw ConfigError("'\(text)': an origin is scheme://host[:port], without a path, query or credentials")
        }
        var host = authority
        var portText: String?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw ConfigError("'\(text)': unclosed '[' in the host") }
            host = String(authority[...close])
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw ConfigError("'\(text)': expected ':' after ']'") }
                portText = String(rest.dropFirst())
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = String(authority[authority.index(after: colon)...])
        }
        guard !host.isEmpty else { throw ConfigError("'\(text)': the host is empty") }
        self.scheme = scheme
        self.host = host.lowercased()
        switch portText {
        case "*":
            port = .any
        case .some(let digits):
            guard let number = Int(digits), (1...65535).contains(number), digits.allSatisfy(\.isASCII) else {
                throw ConfigError("'\(text)': '\(digits)' is not a port (1-65535 or *)")
            }
            port = .exact(number)
        case nil:
            port = .exact(Self.defaultPorts[scheme])
        }
    }

    static let defaultPorts = ["http": 80, "https": 443, "ws": 80, "wss": 443]

    /// Does a browser's origin (e.g. `http://127.0.0.1:8000`) fall under this pattern?
    public func matches(_ origin: String) -> Bool {
        guard let other = try? OriginPattern(parsing: origin), case .exact(let otherPort) = other.port else { return false }
        guard other.scheme == scheme, other.host == host else { return false }
        switch port {
        case .any: return true
        case .exact(let mine): return mine == otherPort
        }
    }

    public var description: String {
        switch port {
        case .any: return "\(scheme)://\(host):*"
        case .exact(let number):
            guard let number, number != Self.defaultPorts[scheme] else { return "\(scheme)://\(host)" }
            return "\(scheme)://\(host):\(number)"
        }
    }
}
