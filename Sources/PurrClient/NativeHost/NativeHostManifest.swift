import Foundation
import PurrCore

/// The Native Messaging manifest that tells a browser where the host binary is and which extension
/// may start it, and the per-user folder each browser reads it from.
public struct NativeHostManifest: Sendable, Equatable {
    /// The host's name, as the extension's `runtime.connectNative('purr')` asks for it.
    public static let hostName = "purr"
    /// Our extension's id in Chrome and Chromium: fixed by the `key` in `browser/extension/manifest.json`.
    public static let chromeExtensionID = "cnjilagaiabajcfmodcgkmpihofilcfp"
    /// The original extension's Firefox id, kept by ours.
    public static let firefoxExtensionID = "purr@purr.purr"

    public enum Browser: String, Sendable, CaseIterable {
        case chrome, chromium, firefox

        public init(parsing text: String, flag: String) throws(ConfigError) {
            guard let browser = Browser(rawValue: text.lowercased()) else {
                throw ConfigError("\(flag): '\(text)' is not chrome, chromium or firefox")
            }
            self = browser
        }

        public var defaultExtensionID: String {
            self == .firefox ? NativeHostManifest.firefoxExtensionID : NativeHostManifest.chromeExtensionID
        }
    }

    public var browser: Browser
    /// The absolute path of the `purr` binary.
    public var path: String
    public var extensionID: String

    public init(browser: Browser, path: String, extensionID: String? = nil) {
        self.browser = browser
        self.path = path
        self.extensionID = extensionID ?? browser.defaultExtensionID
    }

    /// The manifest's JSON text.
    public var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Where this browser looks for per-user hosts (`--dir` replaces it).
    public static func directory(for browser: Browser, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let home = environment["HOME"] ?? NSHomeDirectory()
        #if os(macOS)
            let support = "\(home)/Library/Application Support"
            switch browser {
            case .chrome: return "\(support)/Google/Chrome/NativeMessagingHosts"
            case .chromium: return "\(support)/Chromium/NativeMessagingHosts"
            case .firefox: return "\(support)/Mozilla/NativeMessagingHosts"
            }
        #else
            let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(home)/.config"
            switch browser {
            case .chrome: return "\(config)/google-chrome/NativeMessagingHosts"
            case .chromium: return "\(config)/chromium/NativeMessagingHosts"
            case .firefox: return "\(home)/.mozilla/native-messaging-hosts"
            }
        #endif
    }

    /// Writes `DIR/purr.json` (creating DIR) and returns its path.
    public func install(in directory: String) throws(ConfigError) -> String {
        let file = "\(directory)/\(Self.hostName).json"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            throw ConfigError("\(file): cannot write: \(TOMLReader.describe(error))")
        }
        return file
    }

    /// Removes `DIR/purr.json`; returns its path, or nil when there was none.
    public static func uninstall(from directory: String) throws(ConfigError) -> String? {
        let file = "\(directory)/\(hostName).json"
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        do {
            try FileManager.default.removeItem(atPath: file)
        } catch {
            throw ConfigError("\(file): cannot remove: \(TOMLReader.describe(error))")
        }
        return file
    }
}

extension NativeHostManifest: Encodable {
    enum CodingKeys: String, CodingKey {
        case name, description, path, type
        case allowedOrigins = "allowed_origins"
        case allowedExtensions = "allowed_extensions"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.hostName, forKey: .name)
        try container.encode("Purr: TCP tunnels over HTTP", forKey: .description)
        try container.encode(path, forKey: .path)
        try container.encode("stdio", forKey: .type)
        switch browser {
        case .chrome, .chromium: try container.encode(["chrome-extension://\(extensionID)/"], forKey: .allowedOrigins)
        case .firefox: try container.encode([extensionID], forKey: .allowedExtensions)
        }
    }
}
