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
    /// One peer address had `max_connections_per_peer` connections not relaying yet.
    case peerLimit = "peer_limit"
    case notPurr = "not_purr"
    case noRoute = "no_route"
    case unauthorized
    /// A browser's WebSocket from an origin the server does not allow (`--ws-origin`).
    case forbiddenOrigin = "forbidden_origin"
    case targetUnreachable = "target_unreachable"
    case clientGone = "client_gone"
    case relayError = "relay_error"
    case shutdown

    // Dynamic routes (issue #16): why a target was not chosen. A `TargetRefusal.reason` with one of
    // these labels is counted under it; any other label counts as `refused`.
    /// The chosen target is outside the route's allow list (403).
    case forbiddenTarget = "forbidden_target"
    /// A path template's capture is not safe or not a host/port (400).
    case badCapture = "bad_capture"
    /// A token file has no such token, or none was presented (401/403).
    case unknownToken = "unknown_token"
    /// The resolver service failed or answered nonsense (502).
    case resolverFailed = "resolver_failed"
    /// No answer in time: the resolver's timeout, or any source past the lookup deadline (504).
    case resolverTimeout = "resolver_timeout"
    /// The resolver refused the request with its own status.
    case resolverRefused = "resolver_refused"
    /// Signed tokens (401 each).
    case jwtExpired = "jwt_expired"
    case jwtNotYetValid = "jwt_not_yet_valid"
    case jwtBadSignature = "jwt_bad_signature"
    case jwtWrongAudience = "jwt_wrong_audience"
    case jwtInvalid = "jwt_invalid"
    /// An embedding application's own refusal (or a label this server does not know).
    case refused

    /// The label a source's refusal is counted under.
    init(refusalReason reason: String) {
        self = FailureReason(rawValue: reason).flatMap { Self.refusalLabels.contains($0) ? $0 : nil } ?? .refused
    }

    /// The labels a `TargetSource` may use (the others are the server's own).
    static let refusalLabels: Set<FailureReason> = [
        .forbiddenTarget, .badCapture, .unknownToken, .resolverFailed, .resolverTimeout, .resolverRefused, .jwtExpired,
        .jwtNotYetValid, .jwtBadSignature, .jwtWrongAudience, .jwtInvalid, .refused, .unauthorized, .targetUnreachable,
    ]
}
