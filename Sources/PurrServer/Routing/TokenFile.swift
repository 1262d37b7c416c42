import PurrCore

/// websockify's token file: one `TOKEN: HOST:PORT` per line, `#` comments and blank lines ignored.
/// A bad line is skipped and described (file and line, never the token); the rest is served.
struct TokenFile: Sendable {
    struct Entry: Sendable {
        let token: String
        let target: HostPort
        let line: Int
        /// The token's bytes, kept so a lookup allocates once, not once per line.
        let bytes: [UInt8]
    }

    let entries: [Entry]
    /// One line per problem, ready to log: `tokens.txt:3: ...`.
    let problems: [String]

    init(text: String, file: String) {
        var entries: [Entry] = []
        var problems: [String] = []
        var firstLine: [String: Int] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = raw.trimmingASCIIWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                problems.append("\(file):\(number): expected TOKEN: HOST:PORT (no ':' after a token)")
                continue
            }
            let token = line[..<colon].trimmingASCIIWhitespace()
            let targetText = line[line.index(after: colon)...].trimmingASCIIWhitespace()
            guard !token.isEmpty, !token.contains(where: { $0 == " " || $0 == "\t" }) else {
                problems.append("\(file):\(number): expected TOKEN: HOST:PORT (the token is empty or has spaces)")
                continue
            }
            let target: HostPort
            do {
                target = try HostPort(parsing: targetText)
            } catch {
                problems.append("\(file):\(number): the target \(error.message)")
                continue
            }
            if let first = firstLine[token] {
                problems.append("\(file):\(number): the same token as on line \(first); the first one is used")
                continue
            }
            firstLine[token] = number
            entries.append(Entry(token: token, target: target, line: number, bytes: Array(token.utf8)))
        }
        self.entries = entries
        // A line can hold anything (an escape sequence, a lone CR, a megabyte): each problem is one printable line.
        self.problems = problems.map(PrintableProblem.line)
    }

    /// The target for a presented token. Every entry is compared, in constant time each, whatever
    /// matches: the time taken says nothing about which token (or how much of one) was right.
    func target(for presented: String) -> HostPort? {
        let candidate = Array(presented.utf8)
        var found: HostPort?
        for entry in entries where Self.equal(candidate, entry.bytes) && found == nil {
            found = entry.target
        }
        return found
    }

    /// `ConstantTime.equals` on bytes already in hand: the longer length is walked every time.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            diff |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return diff == 0
    }
}
