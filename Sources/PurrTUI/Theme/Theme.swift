import Foundation
import PurrCore

/// How one role looks.
public struct ThemeStyle: Sendable, Equatable {
    public var foreground: ThemeColor = .terminalDefault
    public var background: ThemeColor = .terminalDefault
    public var bold = false
    public var underline = false
    public var reverse = false
    public var dim = false

    public init() {}
}

/// A named set of styles, one per role. Roles a file leaves out look like `normal`.
public struct Theme: Sendable, Equatable {
    public var name: String
    public var styles: [ThemeRole: ThemeStyle]

    public func style(_ role: ThemeRole) -> ThemeStyle {
        styles[role] ?? styles[.normal] ?? ThemeStyle()
    }

    /// Parses a theme file: `role = FOREGROUND [on BACKGROUND] [bold] [underline] [reverse] [dim]` lines,
    /// `#` comment lines. Errors name the file, the line and what was wrong.
    public static func parse(_ text: String, name: String, file: String) throws(ConfigError) -> Theme {
        var styles: [ThemeRole: ThemeStyle] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let place = "\(file):\(index + 1)"
            // A comment is a line starting with `#`, or `# ` after a value (`#rrggbb` is a colour).
            var line = String(rawLine)
            if line.trimmingASCIIWhitespace().hasPrefix("#") { continue }
            if let comment = line.range(of: " # ") { line = String(line[..<comment.lowerBound]) }
            if line.trimmingASCIIWhitespace().isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError("\(place): expected 'role = colour', got '\(line.trimmingASCIIWhitespace())'")
            }
            let roleName = line[..<equals].trimmingASCIIWhitespace()
            guard let role = ThemeRole(rawValue: roleName) else {
                throw ConfigError(
                    "\(place): unknown role '\(roleName)' (roles: \(ThemeRole.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard styles[role] == nil else { throw ConfigError("\(place): role '\(roleName)' is set twice") }
            styles[role] = try parseStyle(String(line[line.index(after: equals)...]), at: place)
        }
        guard styles[.normal] != nil else { throw ConfigError("\(file): the theme must set 'normal'") }
        return Theme(name: name, styles: styles)
    }

    static func parseStyle(_ text: String, at place: String) throws(ConfigError) -> ThemeStyle {
        var style = ThemeStyle()
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { throw ConfigError("\(place): no colour given") }
        guard let foreground = ThemeColor(parsing: first) else { throw badColour(first, place) }
        style.foreground = foreground
        var rest = words.dropFirst()
        while let word = rest.first {
            rest = rest.dropFirst()
            switch word.lowercased() {
            case "on":
                guard let next = rest.first else { throw ConfigError("\(place): 'on' needs a background colour") }
                guard let background = ThemeColor(parsing: next) else { throw badColour(next, place) }
                style.background = background
                rest = rest.dropFirst()
            case "bold": style.bold = true
            case "underline": style.underline = true
            case "reverse": style.reverse = true
            case "dim": style.dim = true
            default:
                throw ConfigError("\(place): unexpected '\(word)' (expected 'on COLOUR', bold, underline, reverse or dim)")
            }
        }
        return style
    }

    static func badColour(_ word: String, _ place: String) -> ConfigError {
        ConfigError("\(place): unknown colour '\(word)' (expected a name like 'cyan' or 'bright-red', 0-255, or #rrggbb)")
    }

    /// Attributes only: what `NO_COLOR` and colourless terminals get if no mono file can be read.
    public static let fallbackMono = Theme(
        name: "mono",
        styles: [
            .normal: ThemeStyle(),
            .header: {
                var s = ThemeStyle()
                s.reverse = true
                s.bold = true
                return s
            }(),
            .selected: {
                var s = ThemeStyle()
                s.reverse = true
                return s
            }(),
            .footer: {
                var s = ThemeStyle()
                s.reverse = true
                return s
            }(),
            .error: {
                var s = ThemeStyle()
                s.bold = true
                return s
            }(),
        ]
    )
}
