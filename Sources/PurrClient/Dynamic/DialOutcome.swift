/// How a dynamic tunnel's dial for one request ended, as its proxy protocol must say it: the server's
/// answer sorted into what SOCKS and an HTTP proxy can tell their client.
public enum DialOutcome: Sendable, Equatable {
    /// The server answered 101: the tunnel is up.
    case connected
    /// 401, 403, 404 (any 4xx) from the server, or the tunnel's own allow list: the target may not be reached.
    case notAllowed(String)
    /// 502 from the server: the target refused the connection.
    case connectionRefused(String)
    /// 502 from the server for any other reason: the target could not be reached.
    case hostUnreachable(String)
    /// No answer in time (504 from the server, or the server did not answer).
    case timedOut(String)
    /// Anything else: the server could not be reached, or answered something else.
    case failed(String)

    /// Sorts a failed dial by its kind and the status the server answered with. A failure known only in
    /// words (kind `local`) is sorted by the status its words name, as `description` spells it.
    public init(_ failure: HandshakeFailure) {
        let words = failure.description
        switch failure.kind {
        case .refused:
            self = Self.sorted(status: failure.status, words: words, refusedTarget: failure.detail?.contains("refused") ?? false)
        case .timeout:
            self = .timedOut(words)
        case .connect, .tls, .proxy, .badAnswer, .closed:
            self = .failed(words)
        case .local:
            let status = Self.status(in: words)
            if status == nil, words.contains("did not answer within") || words.contains("timed out") {
                self = .timedOut(words)
            } else {
                self = Self.sorted(status: status, words: words, refusedTarget: words.contains("refused"))
            }
        }
    }

    /// 4xx: not allowed; 502: the target refused (`refusedTarget`) or could not be reached; 504: timed out.
    private static func sorted(status: Int?, words: String, refusedTarget: Bool) -> DialOutcome {
        switch status {
        case .some(400..<500): return .notAllowed(words)
        case 502: return refusedTarget ? .connectionRefused(words) : .hostUnreachable(words)
        case 504: return .timedOut(words)
        default: return .failed(words)
        }
    }

    /// The status in `server answered 403 Forbidden: ...` (a failure built from words only).
    static func status(in words: String) -> Int? {
        let prefix = "server answered "
        guard words.hasPrefix(prefix) else { return nil }
        let digits = words.dropFirst(prefix.count).prefix { $0.isASCII && $0.isNumber }
        guard digits.count == 3 else { return nil }
        return Int(digits)
    }

    /// The reason in words (nil once connected).
    public var reason: String? {
        switch self {
        case .connected: return nil
        case .notAllowed(let words), .connectionRefused(let words), .hostUnreachable(let words), .timedOut(let words),
            .failed(let words):
            return words
        }
    }

    /// RFC 1928's REP field.
    var socks5Reply: UInt8 {
        switch self {
        case .connected: return 0x00
        case .failed: return 0x01
        case .notAllowed: return 0x02
        case .hostUnreachable: return 0x04
        case .connectionRefused: return 0x05
        case .timedOut: return 0x06
        }
    }

    /// The status an HTTP proxy answers with (200 once connected).
    var httpStatus: (code: Int, phrase: String) {
        switch self {
        case .connected: return (200, "Connection established")
        case .notAllowed: return (403, "Forbidden")
        case .timedOut: return (504, "Gateway Timeout")
        case .connectionRefused, .hostUnreachable, .failed: return (502, "Bad Gateway")
        }
    }
}
