import NIOCore

/// `--threads`: how many event-loop threads a program runs (purr-server, purr), one rule and one text
/// for both.
public enum EventLoopThreads {
    public static let range = 1...256
    public static let help = "Event-loop threads (default: one per core; 1 to 256)."
    public static let discussion =
        "Each thread accepts on its own listening socket and serves the connections it accepted. More threads spread bulk traffic over the cores; fewer keep the process on fewer cores."

    /// The threads to run: the count asked for, or one per core.
    public static func count(_ asked: Int?) -> Int { asked ?? System.coreCount }

    /// `value` when in range; out of range is one clear line naming `flag`.
    public static func checked(_ value: Int?, flag: String = "--threads") throws(ConfigError) -> Int? {
        guard let value else { return nil }
        guard range.contains(value) else {
            throw ConfigError("\(flag): \(value) is out of range \(range.lowerBound)...\(range.upperBound) threads")
        }
        return value
    }
}
