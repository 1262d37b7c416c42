import Foundation

/// An error answer: status line, one line of text, and the failure it is counted as.
struct Refusal: Equatable {
    var status: Int
    var reasonPhrase: String
    var message: String
    var failure: FailureReason

    static func badRequest(_ message: String) -> Refusal {
        Refusal(status: 400, reasonPhrase: "Bad Request", message: message, failure: .badRequest)
    }

    static func notFound(_ message: String, _ failure: FailureReason) -> Refusal {
        Refusal(status: 404, reasonPhrase: "Not Found", message: message, failure: failure)
    }

    static func unauthorized(_ message: String) -> Refusal {
        Refusal(status: 401, reasonPhrase: "Unauthorized", message: message, failure: .unauthorized)
    }

    static func forbiddenOrigin(_ message: String) -> Refusal {
        Refusal(status: 403, reasonPhrase: "Forbidden", message: message, failure: .forbiddenOrigin)
    }

    static func overLimit(_ message: String) -> Refusal {
        Refusal(status: 503, reasonPhrase: "Service Unavailable", message: message, failure: .overLimit)
    }

    static func headerTimeout(seconds: Double) -> Refusal {
        Refusal(
            status: 408, reasonPhrase: "Request Timeout", message: "no complete request head within \(seconds.formatted()) s",
            failure: .headerTimeout)
    }

    static func headTooLarge(_ message: String) -> Refusal {
        Refusal(status: 431, reasonPhrase: "Request Header Fields Too Large", message: message, failure: .headTooLarge)
    }

    static func badGateway(_ message: String) -> Refusal {
        Refusal(status: 502, reasonPhrase: "Bad Gateway", message: message, failure: .targetUnreachable)
    }
}
