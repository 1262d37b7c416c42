import Foundation
import PurrClient

/// A several-server tunnel's servers in few characters: the table's `2/3 up ✖1 ◌1`, each server's
/// short label for the connections pane, and the detail line of each.
public enum ServerSummary {
    /// Marks: a server marked down after failures, and one answering 503 while it drains.
    public static let downMark = "✖"
    public static let drainingMark = "◌"

    /// `2/3 up`, then `✖N` for servers down and `◌N` for draining ones; nil for a one-server tunnel.
    public static func text(_ servers: [ServerHealthSnapshot]) -> String? {
        guard !servers.isEmpty else { return nil }
        let up = servers.filter { $0.health == .up }.count
        let down = servers.filter { $0.health == .down }.count
        let draining = servers.filter { $0.health == .draining }.count
        var text = "\(up)/\(servers.count) up"
        if down > 0 { text += " \(downMark)\(down)" }
        if draining > 0 { text += " \(drainingMark)\(draining)" }
        return text
    }

    /// Every server up: normal; some not: a warning; none: an error (connections try them anyway).
    public static func role(_ servers: [ServerHealthSnapshot]) -> ThemeRole {
        let up = servers.filter { $0.health == .up }.count
        if up == servers.count { return .normal }
        return up == 0 ? .error : .warning
    }

    /// Names that tell the servers apart in a narrow column: the host, `host:port` when hosts repeat,
    /// `#N` (1-based, as the detail lines number them) when even that repeats or the URL does not parse.
    public static func labels(_ servers: [ServerHealthSnapshot]) -> [Int: String] {
        let parts = servers.map { server -> (host: String, hostPort: String)? in
            guard !server.host.isEmpty else { return nil }
            let shown = server.host.contains(":") ? "[\(server.host)]" : server.host
            return (shown, "\(shown):\(server.port)")
        }
        var labels: [Int: String] = [:]
        for (position, server) in servers.enumerated() {
            guard let part = parts[position] else {
                labels[server.index] = number(server.index)
                continue
            }
            if parts.filter({ $0?.host == part.host }).count == 1 {
                labels[server.index] = part.host
            } else if parts.filter({ $0?.hostPort == part.hostPort }).count == 1 {
                labels[server.index] = part.hostPort
            } else {
                labels[server.index] = number(server.index)
            }
        }
        return labels
    }

    /// `b.example:8080/ssh` from `http://b.example:8080/ssh` (already redacted): the URL from its host on.
    public static func withoutScheme(_ url: String) -> String {
        guard var components = URLComponents(string: url, encodingInvalidCharacters: false), components.scheme != nil else {
            return url
        }
        components.scheme = nil
        guard let text = components.string, text.hasPrefix("//") else { return url }
        return String(text.dropFirst(2))
    }

    /// `#2` for the list's second server (index 1).
    public static func number(_ index: Int) -> String { "#\(index + 1)" }

    /// How a server's health looks: a symbol, a word and a colour.
    public static func look(_ health: ServerHealthSnapshot.Health) -> (symbol: String, word: String, role: ThemeRole) {
        switch health {
        case .up: return ("●", "up", .listening)
        case .down: return (downMark, "down", .error)
        case .draining: return (drainingMark, "draining", .warning)
        }
    }

    /// One server's detail line, as parts: `#2 b.example  ✖ down  act 0 · tot 12 · fail 3  retry in 4s
    /// last: connection refused`. `now` places `retryAt`.
    /// `watched`: the `[[servers]]` entry seen carrying its connections, named at the end.
    public static func detail(
        _ server: ServerHealthSnapshot, label: String, labelWidth: Int, now: Date, watched: String? = nil
    ) -> [(String, ThemeRole)] {
        let look = look(server.health)
        var parts: [(String, ThemeRole)] = [
            (Format.pad(number(server.index), 3) + " " + Format.pad(label, labelWidth) + "  ", .normal),
            // One space after the longest word (`◌ draining`).
            (Format.pad("\(look.symbol) \(look.word)", 11), look.role),
            ("act \(server.active) · tot \(server.total) · fail \(server.failures)", .normal),
        ]
        if server.consecutiveFailures > 0, server.consecutiveFailures != server.failures {
            parts.append((" (\(server.consecutiveFailures) in a row)", .warning))
        }
        if let retryAt = server.retryAt, server.health != .up {
            let wait = retryAt.timeIntervalSince(now)
            parts.append((wait > 0 ? "  retry in \(Int(wait.rounded(.up)))s" : "  retrying", .warning))
        }
        // Why it is out matters more than how fast it was: the error comes first where a line is cut.
        if let error = server.lastError, server.health != .up { parts.append(("  last: \(error)", .error)) }
        if let seconds = server.connectSeconds { parts.append(("  connect \(Format.micros(Int(seconds * 1e6)))", .dim)) }
        if let watched { parts.append(("  admin: \(watched)", .dim)) }
        if let error = server.lastError, server.health == .up { parts.append(("  last: \(error)", .dim)) }
        return parts
    }
}
