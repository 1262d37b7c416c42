import PurrCore

/// Why a connection to the server did not become a relay: what kind of step failed, the status a server
/// or proxy answered with, and one line a human understands (`description`, the tunnel's last error).
public struct HandshakeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step that failed.
    public enum Kind: String, Sendable, Equatable {
        /// TCP to the server or its proxy (refused, unreachable, timed out connecting).
        case connect
        /// TLS to the server.
        case tls
        /// The proxy refused CONNECT, answered something else, closed, or authentication failed.
        case proxy
        /// No answer within the handshake timeout (from the proxy or the server).
        case timeout
        /// The server answered with a status other than 101 (`status`, `reason`, `detail`).
        case refused
        /// The server answered, but not with a valid upgrade (bad head, wrong accept value, an extension).
        case badAnswer
        /// The server closed before answering (or closed a pooled connection).
        case closed
        /// Something on this side (cannot start TLS or framing, a failure built from words only).
        case local
    }

    public let kind: Kind
    /// The status code the server (`refused`) or the proxy (`proxy`) answered with, if it answered.
    public let status: Int?
    /// That answer's reason phrase, printable.
    public let reason: String?
    /// The first line of a refusal's body, printable (the server's own words: "no route for /x").
    public let detail: String?
    public let description: String
    /// A refusal's `Retry-After`, in seconds (0 to 3600), when it had one: a draining server's 503.
    public var retryAfter: Int?

    public init(kind: Kind, status: Int? = nil, reason: String? = nil, detail: String? = nil, _ description: String) {
        self.kind = kind
        self.status = status
        self.reason = reason
        self.detail = detail
        self.description = description
    }

    /// A failure known only in words (kind `local`).
    public init(_ description: String) {
        self.init(kind: .local, description)
    }

    /// The server answered `status` instead of 101.
    static func refused(status: Int, reason: String, detail: String, retryAfter: Int? = nil) -> HandshakeFailure {
        let words = UpgradeResponseError.status(code: String(status), reason: reason, body: detail).description
        var failure = HandshakeFailure(kind: .refused, status: status, reason: reason, detail: detail.isEmpty ? nil : detail, words)
        failure.retryAfter = retryAfter
        return failure
    }
}
