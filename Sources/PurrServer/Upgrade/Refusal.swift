import Foundation
import NIOHTTP1
import PurrCore

/// An error answer: status line, one line of text, and the failure it is counted as.
struct Refusal: Equatable {
    var status: Int
    var reasonPhrase: String
    var message: String
    var failure: FailureReason
    /// Seconds a client should wait before asking this server again (`Retry-After`; a draining server's 503).
    var retryAfter: Int?

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

    static func peerLimit(_ message: String) -> Refusal {
        Refusal(status: 503, reasonPhrase: "Service Unavailable", message: message, failure: .peerLimit)
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

    /// A draining server's answer to every new upgrade: a client with another server goes there at once.
    static func draining(retryAfter: Int) -> Refusal {
        Refusal(status: 503, reasonPhrase: "Service Unavailable", message: "draining", failure: .shutdown, retryAfter: retryAfter)
    }

    /// The answer on the wire: status line, headers (`Retry-After` when set), the one-line body.
    var response: String {
        let text = UpgradeResponse.error(status: status, reason: reasonPhrase, message: message)
        guard let retryAfter, let lineEnd = text.range(of: "\r\n") else { return text }
        return text[..<lineEnd.upperBound] + "Retry-After: \(retryAfter)\r\n" + text[lineEnd.upperBound...]
    }
}

extension Refusal {
    /// A dynamic source's refusal: its status (an error status, else 502), its line, and its label.
    init(_ refusal: TargetRefusal) {
        let status = (400...599).contains(refusal.status) ? refusal.status : 502
        let phrase = HTTPResponseStatus(statusCode: status).reasonPhrase
        self.init(
            status: status, reasonPhrase: phrase.isEmpty ? "Refused" : phrase, message: Self.oneLine(refusal.message),
            failure: FailureReason(refusalReason: refusal.reason))
    }

    /// A source that gave no answer within the deadline.
    static func lookupTimeout(route: String, seconds: Double) -> Refusal {
        Refusal(
            status: 504, reasonPhrase: "Gateway Timeout", message: "no target chosen for route \(route) within \(seconds.formatted()) s",
            failure: .resolverTimeout)
    }

    /// One line of at most 300 printable characters: what a source says may come from anywhere.
    static func oneLine(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? " " : Character($0) })
        let trimmed = cleaned.trimmingCharacters(in: .whitespaces)
        let line = trimmed.isEmpty ? "refused" : trimmed
        return line.count > 300 ? String(line.prefix(300)) + "…" : line
    }
}
