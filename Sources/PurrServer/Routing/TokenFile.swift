import PurrCore

/// websockify's token file: one `TOKEN: HOST:PORT` per line, `#` comments and blank lines ignored.
/// A bad line is skipped and described (file and line, never the token); the rest is served.
struct TokenFile: Sendable {
    struct Entry: Sendable {
        let token: String
        let target: HostPort
        let line: Int
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
            entries.append(Entry(token: token, target: target, line: number))
        }
        self.entries = entries
        self.problems = problems
    }

    /// The target for a presented token. Every entry is compared, in constant time each, whatever
    /// matches: the time taken says nothing about which token (or how much of one) was right.
    func target(for presented: String) -> HostPort? {
        var found: HostPort?
        for entry in entries where ConstantTime.equals(presented, entry.token) && found == nil {
            found = entry.target
        }
        return found
    }
}
