import Logging

extension Logger.Level {
    /// Parses `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`.
    public init(parsing text: String) throws(ConfigError) {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigError("'\(text)' is not a log level (expected one of: \(names))")
        }
        self = level
    }
}
