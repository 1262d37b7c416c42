/// Problems made from outside text (a token file's line, a resolver's answer, a token's claim) go into
/// logs and refusal bodies: one printable line each, whatever that text held.
enum PrintableProblem {
    /// The longest problem kept; the text it quotes can be any length.
    static let maxLength = 300

    /// Control characters (an escape sequence, CR, LF) shown as `?`; a very long text cut with `…`.
    static func line(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.map { $0.value < 0x20 || (0x7f..<0xa0).contains($0.value) ? "?" : Character($0) })
        return cleaned.count > maxLength ? String(cleaned.prefix(maxLength)) + "…" : cleaned
    }
}
