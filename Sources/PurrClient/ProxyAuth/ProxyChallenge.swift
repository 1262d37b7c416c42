/// One challenge of a `Proxy-Authenticate` field: its scheme and, for Negotiate and NTLM, the token68
/// that carries the proxy's GSSAPI token (absent in the first 407).
struct ProxyChallenge: Equatable {
    let scheme: String
    let token: String?

    /// Is this `scheme` (case-insensitive, RFC 9110 11.1)?
    func isScheme(_ name: String) -> Bool { scheme.lowercased() == name.lowercased() }

    /// Every challenge in `values` (one field may hold several, comma-separated: `Negotiate, NTLM,
    /// Basic realm="corp, west"`). An element that is `name=value` belongs to the challenge before it.
    static func parse(_ values: [String]) -> [ProxyChallenge] {
        var challenges: [ProxyChallenge] = []
        for value in values {
            for element in splitOutsideQuotes(value) {
                let trimmed = element.trimmingSpaces
                guard !trimmed.isEmpty else { continue }
                let parts = trimmed.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                let first = String(parts[0])
                if first.contains("=") && !isToken68(first) { continue }  // an auth-param of the challenge before
                let rest = parts.count > 1 ? String(parts[1]).trimmingSpaces : nil
                // `Negotiate <token68>`; `Basic realm="x"` has a parameter, not a token.
                let token = rest.flatMap { isToken68($0) ? $0 : nil }
                challenges.append(ProxyChallenge(scheme: first, token: token))
            }
        }
        return challenges
    }

    /// The schemes offered, in the proxy's order, each once (for log lines).
    static func schemes(_ challenges: [ProxyChallenge]) -> [String] {
        var seen: Set<String> = []
        return challenges.map(\.scheme).filter { seen.insert($0.lowercased()).inserted }
    }

    /// token68 (RFC 9110 11.2): letters, digits, `-._~+/`, then `=` padding.
    static func isToken68(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        var end = scalars.count
        while end > 0, scalars[end - 1] == "=" { end -= 1 }
        guard end > 0 else { return false }
        return scalars[..<end].allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "_", "~", "+", "/": return true
            default: return false
            }
        }
    }

    private static func splitOutsideQuotes(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if character == "\\" && quoted {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == "," && !quoted {
                parts.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return String(text)
    }
}
