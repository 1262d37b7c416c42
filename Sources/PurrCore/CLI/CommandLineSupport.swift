import Foundation
import Logging

/// What every Purr executable does the same way: one-line errors (`ProcessExit`), stderr logging.
public enum CommandLineSupport {
    /// Writes one line to standard error.
    public static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Writes one line to standard output, unbuffered (scripts wait for it).
    public static func printLine(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// A usage or configuration error: one line, `ProcessExit.usage`.
    public static func usageError(_ tool: String, _ message: String) -> Never {
        LogQueue.standardError.flush()
        printError("\(tool): error: \(message)")
        ProcessExit.usage.exit()
    }

    /// A failure while running: one line, `ProcessExit.failure`.
    public static func runtimeError(_ tool: String, _ message: String) -> Never {
        LogQueue.standardError.flush()
        printError("\(tool): \(message)")
        ProcessExit.failure.exit()
    }

    /// Sends all logs to standard error, one line per event, at `level`, through the process's
    /// `LogQueue` (a log line never blocks an event loop); what is queued is written before exit. The
    /// returned switch changes the level of every logger later (a config reload).
    @discardableResult
    public static func bootstrapLogging(level: Logger.Level) -> LogLevelSwitch {
        bootstrapLogging(level: level, queue: .standardError)
    }

    /// The same into any descriptor (the TUI's log file).
    @discardableResult
    public static func bootstrapLogging(level: Logger.Level, queue: LogQueue) -> LogLevelSwitch {
        let levelSwitch = LogLevelSwitch(level)
        LoggingSystem.bootstrap { label in
            PurrLogHandler(label: label, queue: queue, levelSwitch: levelSwitch)
        }
        atexit { LogQueue.standardError.flush() }
        return levelSwitch
    }

    /// The first line of a possibly multi-line message.
    public static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n", omittingEmptySubsequences: true).first ?? "")
    }
}
