import Foundation

/// `?token=...` in a request target: how WebSocket clients that cannot set headers (browsers) present a
/// route's token. The one place that reads it, and the one place that hides it from logs and stats.
public enum QueryToken {
    public static let name = "token"
    /// What a token's value becomes wherever a request target is shown.
    public static let redacted = "REDACTED"

    /// The percent-decoded value of the first `token=` in the query, if any.
    public static func value(in target: String) -> String? {
        guard let (_, query) = split(target) else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            let raw = parts[1].replacingOccurrences(of: "+", with: " ")
            return raw.removingPercentEncoding ?? raw
        }
        return nil
    }

    /// The target with every `token=` value replaced by `REDACTED` (the rest unchanged).
    public static func redacting(_ target: String) -> String {
        guard let (path, query) = split(target) else { return target }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { return String(pair) }
            return "\(name)=\(redacted)"
        }
        return path + "?" + pairs.joined(separator: "&")
    }

    private static func split(_ target: String) -> (path: String, query: Substring)? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        var query = target[target.index(after: mark)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        return (String(target[..<mark]), query)
    }
}

extension String {
    /// This request target or URL with any `?token=` value hidden.
    public var redactingQueryToken: String { QueryToken.redacting(self) }
}
