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

    /// Read by `URLComponents`, but for a port that is not a number: `*` (any port) is no URL, so a port
    /// of anything but digits is taken off explicitly first, then said to be `*` or refused.
    public init(parsing text: String) throws(ConfigError) {
        let shown = "'\(TargetRedaction.redacting(text, refused: true).printableLine)'"
        var rest = text.hasSuffix("/") ? String(text.dropLast()) : text
        var portText: String?
        if let colon = rest.lastIndex(of: ":") {
            let after = rest[rest.index(after: colon)...]
            let isNumber = after.count <= 5 && after.allSatisfy { $0.isASCII && $0.isNumber }
            if !after.isEmpty, !isNumber, !after.contains(where: { "/]@".contains($0) }) {
                portText = String(after)
                rest = String(rest[..<colon])
            }
        }
        guard !rest.hasSuffix(":"), let components = URLComponents(string: rest, encodingInvalidCharacters: false) else {
            throw ConfigError("\(shown): an origin is scheme://host[:port], in characters a URL may hold")
        }
        // The host as written, lowercased (a browser sends punycode; `percentEncodedHost` decodes it).
        guard let scheme = components.scheme?.lowercased(), let host = components.hostAsWritten(in: rest) else {
            throw ConfigError("\(shown): expected an origin like https://console.example.com or http://127.0.0.1:*")
        }
        guard components.percentEncodedUser == nil, components.percentEncodedPassword == nil,
            components.percentEncodedPath.isEmpty, components.percentEncodedQuery == nil, components.percentEncodedFragment == nil
        else {
            throw ConfigError("\(shown): an origin is scheme://host[:port], without a path, query or credentials")
        }
        guard !host.isEmpty else { throw ConfigError("\(shown): the host is empty") }
        self.scheme = scheme
        self.host = host.lowercased()
        if let portText {
            guard portText == "*", components.port == nil else {
                throw ConfigError("\(shown): '\(portText.printableLine)' is not a port (1-65535 or *)")
            }
            port = .any
        } else if let number = components.port {
            guard (1...65535).contains(number) else { throw ConfigError("\(shown): '\(number)' is not a port (1-65535 or *)") }
            port = .exact(number)
        } else {
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
