import Logging
import Synchronization

/// The process-wide log level, changeable while running (a config reload): every logger made after
/// `CommandLineSupport.bootstrapLogging` asks it on each message instead of keeping a copy.
public final class LogLevelSwitch: Sendable {
    private let raw: Atomic<Int>

    public init(_ level: Logger.Level) {
        raw = Atomic(Self.index(of: level))
    }

    public var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Self.index(of: newValue), ordering: .relaxed) }
    }

    private static func index(of level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 0
    }
}

/// A stream handler whose level comes from a `LogLevelSwitch` (unless a logger sets its own).
struct SwitchedLogHandler: LogHandler {
    var base: StreamLogHandler
    let levelSwitch: LogLevelSwitch
    /// Set when code assigns `logger.logLevel` on its copy; wins over the switch.
    var override: Logger.Level?

    var logLevel: Logger.Level {
        get { override ?? levelSwitch.level }
        set { override = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        base.log(event: event)
    }
}
