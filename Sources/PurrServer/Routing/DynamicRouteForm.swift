import Foundation
import PurrCore

/// One dynamic form of a `[[routes]]` entry in server.toml (a token file, a resolver, signed tokens):
/// the keys that select it, the keys it reads besides, and how it builds the route's source.
/// `ServerConfig.load` picks the form whose selecting key is present; `target` (fixed or template) and
/// the forms are mutually exclusive; `allow` is required for every dynamic form and read by the loader.
///
/// A new form plugs in with one line in `all`.
public struct DynamicRouteForm: Sendable {
    /// Keys whose presence selects this form (`token_file`; `jwt_key` or `jwt_public_key_file`).
    public let selectors: [String]
    /// Further keys this form reads (`resolver_timeout`, `jwt_audience`, ...).
    public let options: [String]
    /// Whether the route-wide `token` key may be given too (not for forms where the token is the input).
    public let takesRouteToken: Bool
    /// Builds the source from the entry; errors come from `entry`'s readers, so they name file and key.
    public let build: @Sendable (DynamicRouteEntry) throws(ConfigError) -> RouteTarget

    public init(
        selectors: [String], options: [String] = [], takesRouteToken: Bool = false,
        build: @escaping @Sendable (DynamicRouteEntry) throws(ConfigError) -> RouteTarget
    ) {
        self.selectors = selectors
        self.options = options
        self.takesRouteToken = takesRouteToken
        self.build = build
    }

    /// Every dynamic form the config file knows, in the order they are looked for.
    public static let all: [DynamicRouteForm] = [
        .tokenFile,
        .resolver,
        .signedToken,
    ]

    static var allKeys: [String] { all.flatMap { $0.selectors + $0.options } }
}

/// A `[[routes]]` entry as a dynamic form sees it.
public struct DynamicRouteEntry {
    /// Typed access to the entry's keys; its errors name the file and `routes[N].key`.
    public let reader: TOMLReader
    /// The route's path as written (a template keeps its captures).
    public let path: String
    /// The path's capture names (`host`, `port`), empty for a plain path.
    public let captures: [String]
    /// The selecting key that was found.
    public let selector: String

    /// A path from the config resolved against the config file's directory (absolute paths stay).
    public func file(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let directory = URL(fileURLWithPath: reader.file).deletingLastPathComponent()
        return directory.appendingPathComponent(path).standardizedFileURL.path
    }

    /// An error that names this entry's key.
    public func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError("\(reader.file): \(reader.path).\(key): \(message)")
    }
}
