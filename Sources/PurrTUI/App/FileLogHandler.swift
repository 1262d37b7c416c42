import Foundation
import Logging

/// Logs to a file, one line per event: the TUI owns the terminal, so standard error is not an option.
public struct FileLogHandler: LogHandler {
    private let handle: FileHandle
    private let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    public init(label: String, handle: FileHandle, level: Logger.Level) {
        self.label = label
        self.handle = handle
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let stamp = ISO8601DateFormatter().string(from: Date())
        handle.write(Data("\(stamp) \(event.level) \(label): \(fields.isEmpty ? "" : fields + " ")\(event.message)\n".utf8))
    }
}
