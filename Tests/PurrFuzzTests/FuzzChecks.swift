import Foundation

/// What every message made from hostile input must be: one line, printable, not a flood.
enum FuzzChecks {
    /// Nil when `message` is one printable line of at most `limit` characters; else what is wrong.
    static func oneLineProblem(_ message: String, limit: Int = 600) -> String? {
        if let bad = message.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f || (0x80..<0xa0).contains($0.value) }) {
            return "holds control character U+\(String(bad.value, radix: 16, uppercase: true))"
        }
        if message.unicodeScalars.contains(where: { $0.value == 0x2028 || $0.value == 0x2029 }) { return "holds a line separator" }
        if message.count > limit { return "is \(message.count) characters long (limit \(limit))" }
        return nil
    }

    /// The first `count` bytes as Swift would write them, for a failure message.
    static func show(_ bytes: [UInt8], count: Int = 120) -> String {
        let head = String(decoding: bytes.prefix(count), as: UTF8.self).debugDescription
        return bytes.count > count ? "\(head)… (\(bytes.count) bytes)" : head
    }
}
