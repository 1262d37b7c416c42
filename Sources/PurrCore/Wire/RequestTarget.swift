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
/// popup, error lines). The one rule: credentials before the host become `***@`, every query value is
/// hidden (the names are kept), a fragment is dropped (never sent; it may carry a token too). Tokens
/// travel as `?token=`, and any other parameter may be a secret too (a resolver's key, a page's session).
public enum TargetRedaction {
    /// What a hidden value becomes.
    public static let marker = "REDACTED"
    /// What hidden credentials become (`http://***@proxy:3128`).
    public static let userInfoMarker = "***"

    /// `refused`: the text is shown in the line that refuses it. What it meant cannot be known then (a
    /// password holding `/`, `?` or `#` splits a URL elsewhere), so everything before its last `@` is
    /// taken for credentials. Otherwise `URLComponents` says where the user info is.
    public static func redacting(_ text: String, refused: Bool = false) -> String {
        hidingQueryValues(maskingUserInfo(text, refused: refused))
    }

    /// `user:password@` before the host shown as `***@`: exactly a readable URL's user info (a request
    /// target, `/path`, has none); in refused text, or text with no `scheme://` (`user:pass@host`), all
    /// up to the last `@`.
    public static func maskingUserInfo(_ text: String, refused: Bool = false) -> String {
        guard text.contains("@") else { return text }
        if !refused, let components = URLComponents(string: text, encodingInvalidCharacters: false),
            components.percentEncodedHost != nil
        {
            guard components.percentEncodedUser != nil || components.percentEncodedPassword != nil else { return text }
            var masked = components
            masked.percentEncodedUser = userInfoMarker
            masked.percentEncodedPassword = nil
            return masked.string ?? maskedToLastAt(text)
        }
        if !refused, text.hasPrefix("/") { return text }
        return maskedToLastAt(text)
    }

    private static func maskedToLastAt(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let start = text.range(of: "://")?.upperBound ?? text.startIndex
        guard start <= at else { return userInfoMarker + text[at...] }
        return text[..<start] + userInfoMarker + text[at...]
    }

    /// Every query value hidden, the fragment dropped; textual, so a target `URLComponents` refuses is
    /// hidden too.
    static func hidingQueryValues(_ text: String) -> String {
        let text = text.firstIndex(of: "#").map { text[..<$0] } ?? text[...]
        guard let mark = text.firstIndex(of: "?") else { return String(text) }
        let query = text[text.index(after: mark)...]
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            return "\(pair[..<equals])=\(marker)"
        }
        return text[..<mark] + "?" + pairs.joined(separator: "&")
    }
}

extension String {
    /// This URL or request target as it may be shown: credentials and every query value hidden
    /// (`TargetRedaction`).
    public var redactingQuery: String { TargetRedaction.redacting(self) }
}
