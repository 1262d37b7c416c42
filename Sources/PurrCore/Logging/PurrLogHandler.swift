import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The programs' log handler: swift-log's `StreamLogHandler` line format (`TIME LEVEL LABEL: k=v [SOURCE]
/// message`) into a `LogQueue`, at the level of a `LogLevelSwitch` (unless a logger sets its own), made
/// cheap for lines logged per connection: metadata is kept as given and rendered only when a line is
/// written (StreamLogHandler re-renders it on every change), and the timestamp is formatted once a second.
struct PurrLogHandler: LogHandler {
    let label: String
    let queue: LogQueue
    let levelSwitch: LogLevelSwitch
    /// Set when code assigns `logger.logLevel` on its copy; wins over the switch.
    var override: Logger.Level?
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, queue: LogQueue, levelSwitch: LogLevelSwitch) {
        self.label = label
        self.queue = queue
        self.levelSwitch = levelSwitch
    }

    var logLevel: Logger.Level {
        get { override ?? levelSwitch.level }
        set { override = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = Self.timestamps.now()
        line += " \(event.level)"
        if !label.isEmpty { line += " \(label)" }
        line += ":"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        line += " [\(event.source)] \(event.message)\n"
        queue.enqueue(line)
    }

    static let timestamps = TimestampCache()
}

/// Local time as `2026-11-27T17:00:00+0000`, formatted at most once per second.
final class TimestampCache: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    func now() -> String {
        var seconds = time(nil)
        if let hit = cached.withLock({ $0.second == seconds ? $0.text : nil }) { return hit }
        var local = tm()
        guard localtime_r(&seconds, &local) != nil else { return "<unknown>" }
        var buffer = [Int8](repeating: 0, count: 64)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        cached.withLock { $0 = (seconds, text) }
        return text
    }
}
