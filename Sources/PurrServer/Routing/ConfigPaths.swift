import Foundation

/// Files named in a config file (a CA, a public key) are found beside it when the path is relative.
enum ConfigPaths {
    static func resolve(_ path: String, besideConfig configFile: String) -> String {
        guard !path.hasPrefix("/"), !configFile.isEmpty else { return path }
        return URL(fileURLWithPath: configFile).deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
    }
}
