import PurrCore

/// A route path with captures, `/vnc/{host}/{port}`: each `{name}` stands for exactly one path segment.
/// A request matches when it has the same number of segments and every literal segment is equal.
/// Captures are taken literally (no percent-decoding) and must be safe before anything uses them.
public struct PathTemplate: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case capture(String)
    }

    let segments: [Segment]

    /// The longest capture accepted (a host name's limit, with room for brackets).
    public static let maxCaptureLength = 255

    /// Parses a path; nil when it has no `{`, so it is a plain (prefix) route.
    public init?(_ path: String) throws(ConfigError) {
        guard path.contains("{") || path.contains("}") else { return nil }
        var segments: [Segment] = []
        var names: Set<String> = []
        for part in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                let name = String(part.dropFirst().dropLast())
                guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw ConfigError("route path '\(path)': capture name '\(name)' must be letters, digits or '_'")
                }
                guard names.insert(name).inserted else { throw ConfigError("route path '\(path)': capture {\(name)} appears twice") }
                segments.append(.capture(name))
            } else if part.contains("{") || part.contains("}") {
                throw ConfigError("route path '\(path)': a capture must be a whole segment, like /vnc/{host}/{port}")
            } else {
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
    }

    public var captureNames: [String] {
        segments.compactMap { if case .capture(let name) = $0 { return name } else { return nil } }
    }

    /// How many segments are literal: the more, the more specific (it is tried first).
    var literalCount: Int { segments.count - captureNames.count }

    /// What a request path gives: no match, captures, or a refusal for a capture that is not safe.
    enum Match: Equatable {
        case noMatch
        case captures([String: String])
        case badCapture(String)
    }

    func match(_ path: String) -> Match {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard parts.count == segments.count else { return .noMatch }
        var captures: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal):
                guard part == literal else { return .noMatch }
            case .capture(let name):
                if let problem = Self.problem(with: part) { return .badCapture("{\(name)}: \(problem)") }
                captures[name] = String(part)
            }
        }
        return .captures(captures)
    }

    /// Why a captured segment may not be used, or nil. Only what a host, a port or an id can hold gets
    /// through: letters, digits, `.-_:[]` (IPv6 literals in brackets); so no `%` (no `%2F`, no `%00`),
    /// no control bytes, and no `.` or `..` segment.
    static func problem(with part: Substring) -> String? {
        if part.isEmpty { return "empty" }
        if part.utf8.count > maxCaptureLength { return "longer than \(maxCaptureLength) bytes" }
        if part == "." || part == ".." { return "'\(part)' is not allowed" }
        if part.contains("%") { return "percent-encoded bytes are not allowed" }
        let allowed = part.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-_:[]".unicodeScalars.contains($0))
        }
        return allowed ? nil : "'\(String(part).printableLine)' has characters a host, port or id cannot have"
    }
}
