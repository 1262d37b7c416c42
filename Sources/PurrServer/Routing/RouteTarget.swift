import PurrCore

/// Where a route's connections go: one fixed target, a template filled from the path's captures, or a
/// source asked per request (token file, resolver, signed token, the embedding application).
public enum RouteTarget: Sendable, Equatable, CustomStringConvertible {
    case fixed(HostPort)
    case template(TargetTemplate)
    /// `summary` says what the source is in stats and logs (`token file /etc/purr/tokens.txt`,
    /// `resolver http://...`); never a secret. Two sources with the same summary count as the same
    /// target when a reload decides which relays lost their route.
    case source(any TargetSource, summary: String)

    public var description: String {
        switch self {
        case .fixed(let target): return target.description
        case .template(let template): return template.description
        case .source(_, let summary): return summary
        }
    }

    /// Whether the target is chosen per request (and so needs an allow list).
    public var isDynamic: Bool {
        if case .fixed = self { return false }
        return true
    }

    public var fixed: HostPort? {
        if case .fixed(let target) = self { return target }
        return nil
    }

    public static func == (lhs: RouteTarget, rhs: RouteTarget) -> Bool {
        switch (lhs, rhs) {
        case (.fixed(let a), .fixed(let b)): return a == b
        case (.template(let a), .template(let b)): return a == b
        case (.source(_, let a), .source(_, let b)): return a == b
        default: return false
        }
    }
}
