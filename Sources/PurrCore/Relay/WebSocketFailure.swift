import NIOWebSocket

/// Why a `WebSocketFrameBridge` ended its connection: passed to the relay as an error, so the session's
/// close reason says it.
public enum WebSocketFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer broke RFC 6455 or a limit; it was sent a close frame with `code`.
    case violation(code: UInt16, String)
    /// No pong came back within the ping interval.
    case pingTimeout(seconds: Double)

    static func protocolError(_ words: String) -> WebSocketFailure {
        .violation(code: Self.code(.protocolError), words)
    }

    static func tooLarge(_ words: String) -> WebSocketFailure {
        .violation(code: Self.code(.messageTooLarge), words)
    }

    /// What NIOWebSocket's frame decoder refused, as a failure with the close code RFC 6455 asks for.
    static func decoding(_ error: NIOWebSocketError, limit: Int) -> WebSocketFailure {
        switch error {
        case .invalidFrameLength: return tooLarge("frame larger than \(limit) bytes")
        case .fragmentedControlFrame: return protocolError("fragmented control frame")
        case .multiByteControlFrameLength: return protocolError("control frame longer than 125 bytes")
        }
    }

    static func code(_ code: WebSocketErrorCode) -> UInt16 {
        UInt16(webSocketErrorCode: code)
    }

    var code: WebSocketErrorCode {
        switch self {
        case .violation(let code, _): return WebSocketErrorCode(codeNumber: Int(code))
        case .pingTimeout: return .goingAway
        }
    }

    public var closeReason: CloseReason {
        switch self {
        case .violation(let code, let words): return .webSocketProtocol(code: code, words)
        case .pingTimeout(let seconds): return .pingTimeout(seconds: seconds)
        }
    }

    /// The words alone, for the close frame's reason.
    var words: String {
        switch self {
        case .violation(_, let words): return words
        case .pingTimeout: return "no pong"
        }
    }

    public var description: String { closeReason.description }
}
