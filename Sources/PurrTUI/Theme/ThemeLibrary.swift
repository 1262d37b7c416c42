import Foundation
import PurrClient
import PurrCore

/// Finds themes: the user's `$XDG_CONFIG_HOME/purr/themes/NAME.theme` first, then the ones shipped in
/// `themes/` (`PURR_THEMES_DIR`, else `share/purr/themes` beside an installed binary, else the source
/// tree's `themes/` above a development build).
public struct ThemeLibrary: Sendable {
    public let userDirectory: String
    public let bundledDirectory: String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        userDirectory = "\(TunnelsFile.configDirectory(environment: environment))/themes"
        bundledDirectory = Self.shippedDirectory(environment: environment)
    }

    public init(userDirectory: String, bundledDirectory: String?) {
        self.userDirectory = userDirectory
        self.bundledDirectory = bundledDirectory
    }

    static func shippedDirectory(environment: [String: String]) -> String? {
        if let explicit = environment["PURR_THEMES_DIR"], !explicit.isEmpty { return explicit }
        // The binary's real path (argv[0] is a bare name when started through PATH).
        let binary = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let executable = binary.resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates = [executable.appendingPathComponent("../share/purr/themes").standardizedFileURL.path]
        var directory = executable
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("themes").path)
            directory.deleteLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: "\($0)/default.theme") }
    }

    /// Every theme name available, sorted, user themes included.
    public var names: [String] {
        var found = Set<String>()
        for directory in [userDirectory, bundledDirectory].compactMap({ $0 }) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for entry in entries where entry.hasSuffix(".theme") { found.insert(String(entry.dropLast(6))) }
        }
        return found.sorted { lhs, rhs in lhs == "default" || (rhs != "default" && lhs < rhs) }
    }

    /// Loads a theme by name; a broken file is an error with its name and line.
    public func load(_ name: String) throws(ConfigError) -> Theme {
        guard !name.contains("/"), !name.isEmpty else { throw ConfigError("theme name '\(name)' is not valid") }
        for directory in [userDirectory, bundledDirectory].compactMap({ $0 }) {
            let path = "\(directory)/\(name).theme"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigError("\(path): cannot read as UTF-8 text")
            }
            return try Theme.parse(text, name: name, file: path)
        }
        throw ConfigError("no theme named '\(name)' (available: \(names.joined(separator: ", ")))")
    }
}
