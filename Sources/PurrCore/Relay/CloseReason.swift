import Foundation

/// Why a relayed connection ended: one vocabulary for the client, the server, `purr stdio` and the stats.
public enum CloseReason: Sendable, Equatable, CustomStringConvertible {
    /// Both sides finished (end of input both ways, or one side closed and the other followed).
    case closed
    /// Nothing moved either way for the configured time. A normal end, not a failure: the user asked for it.
    case idle(seconds: Double)
    /// A socket failed (reset, broken pipe, TLS error); the words say how.
    case error(String)
    /// A WebSocket peer broke the protocol (or a limit) and was sent a close frame with this code.
    case webSocketProtocol(code: UInt16, String)
    /// A WebSocket ping went unanswered for this long: the peer or a middlebox in between is gone.
    case pingTimeout(seconds: Double)

    /// Whether the stats count it as a failure.
    public var isFailure: Bool {
        switch self {
        case .error, .webSocketProtocol, .pingTimeout: return true
        case .closed, .idle: return false
        }
    }

    public var description: String {
        switch self {
        case .closed: return "closed"
        case .idle(let seconds): return "idle for \(seconds.formatted()) s"
        case .error(let words): return "relay error: \(words)"
        case .webSocketProtocol(let code, let words): return "websocket closed with \(code): \(words)"
        case .pingTimeout(let seconds): return "no websocket pong within \(seconds.formatted()) s"
        }
    }
}
