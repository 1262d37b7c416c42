import Foundation
import PurrCore

/// What the resolver answered, read strictly: `{"target": "host:port", "ttl": 30}` with a 2xx status, or
/// a refusal (4xx, passed to the client) with `{"message": "..."}` or a line of text.
struct ResolverAnswer: Sendable, Equatable {
    static let maxBody = 64 * 1024
    /// Answers are kept at most this long, whatever the resolver says.
    static let maxTTL = 3600.0
    /// The longest refusal message passed on to the client.
    static let maxMessage = 200

    var target: HostPort
    /// Seconds the answer may be reused for the same request; 0: not at all.
    var ttl: Double

    private struct Body: Decodable {
        var target: String?
        var ttl: Double?
    }

    private struct Refusal: Decodable {
        var message: String?
    }

    /// The answer to `status` and `body`, or why it cannot be used.
    static func interpret(status: Int, body: [UInt8]) throws(TargetRefusal) -> ResolverAnswer {
        switch status {
        case 200..<300:
            return try parse(body)
        case 400..<500:
            let message = refusalMessage(body) ?? "refused by the resolver"
            throw TargetRefusal(status: status, message: message, reason: "resolver_refused")
        case 500..<600:
            let detail = refusalMessage(body).map { ": \($0)" } ?? ""
            throw failed("the resolver failed with \(status)\(detail)")
        default:
            throw failed("the resolver answered \(status) (expected 2xx with a target, or 4xx)")
        }
    }

    private static func parse(_ body: [UInt8]) throws(TargetRefusal) -> ResolverAnswer {
        let decoded: Body
        do {
            decoded = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch DecodingError.typeMismatch(_, let context) {
            let key = context.codingPath.first?.stringValue ?? "answer"
            throw failed("the resolver's '\(key)' has the wrong type (expected {\"target\": \"host:port\", \"ttl\": seconds})")
        } catch {
            throw failed("the resolver's answer is not JSON (expected {\"target\": \"host:port\"})")
        }
        guard let text = decoded.target else { throw failed("the resolver's answer has no 'target'") }
        let target: HostPort
        do {
            target = try HostPort(parsing: text)
        } catch {
            throw failed("the resolver's target: \(error.message)")
        }
        let ttl = decoded.ttl ?? 0
        guard ttl.isFinite, ttl >= 0 else { throw failed("the resolver's ttl must be a number of seconds, 0 or more") }
        return ResolverAnswer(target: target, ttl: min(ttl, maxTTL))
    }

    /// The resolver's own words: `{"message": ...}` or the first line of a text body, made safe to pass on.
    static func refusalMessage(_ body: [UInt8]) -> String? {
        let text: String
        if let json = try? JSONDecoder().decode(Refusal.self, from: Data(body)), let message = json.message {
            text = message
        } else if body.first != UInt8(ascii: "{") {
            text = String(decoding: body, as: UTF8.self)
        } else {
            return nil
        }
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        // C0 and C1 controls and DEL (a C1 is valid UTF-8 and a terminal still acts on some).
        let printable = String(line.unicodeScalars.filter { $0.value >= 0x20 && !(0x7F..<0xA0).contains($0.value) }.map(Character.init))
        let trimmed = printable.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        return trimmed.count > maxMessage ? String(trimmed.prefix(maxMessage)) + "…" : trimmed
    }

    /// The message quotes what the resolver sent (a target with CR LF in it, say): kept to one printable line.
    static func failed(_ message: String) -> TargetRefusal {
        TargetRefusal(status: 502, message: PrintableProblem.line(message), reason: "resolver_failed")
    }
}
