import PurrCore

/// A target with captures from the route's path: `{host}:{port}`, `{name}.vms.internal:5900`,
/// `10.0.0.5:{port}`. Filled in synchronously when the request is routed; the host must come out an
/// IP literal or a host name and the port a number 1-65535, else the request is refused (400 `bad_capture`).
public struct TargetTemplate: Sendable, Equatable, CustomStringConvertible {
    /// The host part, literal text and capture names in order.
    let host: [Piece]
    let port: Piece
    public let description: String

    enum Piece: Sendable, Equatable {
        case text(String)
        case capture(String)
    }

    /// Parses `target = "..."` of a template route; every capture must be one of the path's.
    public init(_ text: String, captures available: [String]) throws(ConfigError) {
        var hostText = Substring(text)
        if hostText.hasPrefix("[") {
            guard let close = hostText.lastIndex(of: "]") else { throw ConfigError("'\(text)': missing ']' after the IPv6 address") }
            hostText = hostText[..<hostText.index(after: close)]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ConfigError("'\(text)': expected HOST:PORT, e.g. {host}:{port}") }
            hostText = text[..<colon]
        }
        guard text[hostText.endIndex...].first == ":" else { throw ConfigError("'\(text)': expected ':PORT' after the host") }
        let portText = text[text.index(after: hostText.endIndex)...]
        var host = try Self.pieces(hostText, text: text, available: available)
        if case .text(let first)? = host.first, first.hasPrefix("[") { host[0] = .text(String(first.dropFirst())) }
        if case .text(let last)? = host.last, last.hasSuffix("]") { host[host.count - 1] = .text(String(last.dropLast())) }
        let port = try Self.pieces(portText, text: text, available: available)
        switch port.first {
        case .capture where port.count == 1:
            break
        case .text(let literal) where port.count == 1 && AllowList.port(Substring(literal)) != nil:
            break
        default:
            throw ConfigError("'\(text)': the port must be a number or one capture, like {port}")
        }
        guard !host.isEmpty else { throw ConfigError("'\(text)': the host is empty") }
        self.host = host
        self.port = port[0]
        self.description = text
    }

    private static func pieces(_ part: Substring, text: String, available: [String]) throws(ConfigError) -> [Piece] {
        var pieces: [Piece] = []
        var rest = part
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { pieces.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { throw ConfigError("'\(text)': missing '}'") }
            let name = String(rest[rest.index(after: open)..<close])
            guard available.contains(name) else {
                throw ConfigError(
                    "'\(text)': {\(name)} is not a capture of the route's path (it has: \(available.map { "{\($0)}" }.joined(separator: ", ")))"
                )
            }
            pieces.append(.capture(name))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        if pieces.contains(where: { if case .text(let t) = $0 { t.contains("}") } else { false } }) {
            throw ConfigError("'\(text)': unmatched '}'")
        }
        return pieces
    }

    /// The target for these captures, or why they do not make one.
    public func fill(_ captures: [String: String]) -> Result<HostPort, TargetRefusal> {
        func value(_ piece: Piece) -> String {
            switch piece {
            case .text(let text): return text
            case .capture(let name): return captures[name] ?? ""
            }
        }
        let hostText = host.map(value).joined()
        let portText = value(port)
        guard let host = TargetHost(hostText) else {
            return .failure(.badCapture("'\(hostText.printableLine)' is not a host name or IP address"))
        }
        guard let port = AllowList.port(Substring(portText)) else {
            return .failure(.badCapture("'\(portText.printableLine)' is not a port number 1-65535"))
        }
        return .success(HostPort(host: host.description, port: port))
    }
}
