/// A configuration, flag or address error: one line that says what was wrong and where.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// The same error, prefixed with where it was found (a file, a key, a flag).
    public func located(_ place: String) -> ConfigError {
        ConfigError("\(place): \(message)")
    }

    public var description: String { message }
}
