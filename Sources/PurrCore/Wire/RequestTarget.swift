import Foundation

/// A request target (`/path?query`) read the one way every Purr site reads it: Foundation's
/// `URLComponents`. Query names and values are percent-decoded; `+` stays a plus (RFC 3986: a query is not
/// a form, and a token68 token may hold `+`).
public struct RequestTarget: Sendable, Equatable {
    /// The path as sent, still percent-encoded (routes match what was sent).
    public let path: String
    /// The query's items in order, percent-decoded.
    public let items: [URLQueryItem]
    private let encodedItems: [URLQueryItem]

    /// Nil when the text is no URL reference at all (spaces, controls, a bad percent escape).
    public init?(_ target: String) {
        guard let components = URLComponents(string: target, encodingInvalidCharacters: false) else { return nil }
        path = components.percentEncodedPath
        items = components.queryItems ?? []
        encodedItems = components.percentEncodedQueryItems ?? []
    }

    /// The decoded value of the first item called `name` (an item without `=` has the value "").
    public func value(of name: String) -> String? {
        items.first { $0.name == name }.map { $0.value ?? "" }
    }

    /// The target without the items called `name`, the others as they were sent.
    public func removing(_ name: String) -> String {
        let kept = zip(items, encodedItems).filter { $0.0.name != name }.map { "\($0.1.name)\($0.1.value.map { "=\($0)" } ?? "")" }
        return kept.isEmpty ? path : "\(path)?\(kept.joined(separator: "&"))"
    }
}

/// What a URL or request target looks like wherever it is shown (logs, stats, screens, the browser's
/// popup, error lines). The one rule: every query value is hidden, the names are kept, a fragment is
/// dropped. Tokens travel as `?token=`, and any other parameter may be a secret too (a resolver's key, a
/// page's session). Textual, so it also hides what `URLComponents` refuses to read (a malformed target in
/// an error line).
public enum TargetRedaction {
    /// What a hidden value becomes.
    public static let marker = "REDACTED"

    public static func redacting(_ text: String) -> String {
        guard let mark = text.firstIndex(of: "?") else { return text }
        var query = text[text.index(after: mark)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            return "\(pair[..<equals])=\(marker)"
        }
        return text[..<mark] + "?" + pairs.joined(separator: "&")
    }
}

extension String {
    /// This URL or request target as it may be shown: every query value hidden (`TargetRedaction`).
    public var redactingQuery: String { TargetRedaction.redacting(self) }
}
