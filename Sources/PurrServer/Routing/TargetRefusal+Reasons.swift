import PurrCore

/// The refusals the server's own sources give, with their agreed labels (`FailureReason`).
extension TargetRefusal {
    /// A capture of a path template that is not safe, or does not make a host and port (400).
    public static func badCapture(_ why: String) -> TargetRefusal {
        TargetRefusal(status: 400, message: "bad capture: \(why)", reason: FailureReason.badCapture.rawValue)
    }

    /// A target outside the route's allow list (403).
    public static func forbiddenTarget(_ target: HostPort, route: String) -> TargetRefusal {
        TargetRefusal(
            status: 403, message: "target \(target.description.printableLine) is not allowed for route \(route)",
            reason: FailureReason.forbiddenTarget.rawValue)
    }

    /// No token, or one the route does not know (token files): 401 when none was presented, 403 otherwise.
    public static func unknownToken(route: String, presented: Bool) -> TargetRefusal {
        presented
            ? TargetRefusal(status: 403, message: "unknown token for route \(route)", reason: FailureReason.unknownToken.rawValue)
            : TargetRefusal(
                status: 401, message: "route \(route) needs a token (Authorization: Bearer TOKEN, Purr-Token, or ?token=)",
                reason: FailureReason.unknownToken.rawValue)
    }

    /// An embedding application's refusal (counted as `refused`); 403 unless it says otherwise.
    public static func refused(_ message: String, status: Int = 403) -> TargetRefusal {
        TargetRefusal(status: status, message: message, reason: FailureReason.refused.rawValue)
    }
}
