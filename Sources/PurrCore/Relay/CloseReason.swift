import Foundation

/// Why a relayed connection ended: one vocabulary for the client, the server, `purr stdio` and the stats.
public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    /// Both sides finished (end of input both ways, or one side closed and the other followed).
    case closed
    /// Nothing moved either way for the configured time. A normal end, not a failure: the user asked for it.
    case idle(seconds: Double)
    /// A socket failed (reset, broken pipe, TLS error); the words say how.
    case error(String)

    /// Whether the stats count it as a failure.
    public var isFailure: Bool {
        if case .error = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .closed: return "closed"
        case .idle(let seconds): return "idle for \(seconds.formatted()) s"
        case .error(let words): return "relay error: \(words)"
        }
    }
}
