/// Why a connection did not become, or stopped being, a healthy relay. Raw values are the
/// labels the admin endpoint and metrics show.
public enum FailureReason: String, Sendable, CaseIterable, Codable {
    case badRequest = "bad_request"
    case headTooLarge = "head_too_large"
    case headerTimeout = "header_timeout"
    /// Sent nothing within `--silent-timeout` (a warm pool's connection not refreshed in time).
    case silentTimeout = "silent_timeout"
    /// Closed by the client before sending a byte (a warm pool replacing a connection, a port check).
    case unused
    case overLimit = "over_limit"
    case notPurr = "not_purr"
    case noRoute = "no_route"
    case unauthorized
    /// A browser's WebSocket from an origin the server does not allow (`--ws-origin`).
    case forbiddenOrigin = "forbidden_origin"
    case targetUnreachable = "target_unreachable"
    case clientGone = "client_gone"
    case relayError = "relay_error"
    case shutdown
}
