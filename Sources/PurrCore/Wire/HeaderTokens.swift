/// Comma-separated header values read as HTTP defines them (RFC 9110 5.6.1): each token trimmed of spaces
/// and tabs, compared case-insensitively in ASCII (tokens are ASCII), and without a string made per token:
/// every request's `Upgrade` and `Connection` are read this way.
public enum HeaderTokens {
    /// Calls `body` with each token of `value` in order until it returns true; returns whether it did.
    public static func first(in value: String, where body: (Substring.UTF8View) -> Bool) -> Bool {
        let bytes = Substring(value).utf8
        var start = bytes.startIndex
        while true {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            var low = start
            var high = end
            while low < high, isWhitespace(bytes[low]) { low = bytes.index(after: low) }
            while high > low, isWhitespace(bytes[bytes.index(before: high)]) { high = bytes.index(before: high) }
            if low < high, body(Substring(bytes[low..<high]).utf8) { return true }
            guard end < bytes.endIndex else { return false }
            start = bytes.index(after: end)
        }
    }

    /// Whether `value` lists `token`.
    public static func contains(_ value: String, token: String) -> Bool {
        first(in: value) { equalIgnoringCase($0, token.utf8) }
    }

    /// ASCII letters compared without case; every other byte as it is.
    public static func equalIgnoringCase(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { lowered($0) == lowered($1) }
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}
