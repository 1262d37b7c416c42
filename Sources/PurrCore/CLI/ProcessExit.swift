import Foundation

/// Every way a Purr executable ends, with its exit code: the one place the codes are written.
public enum ProcessExit: Int32, Sendable, CaseIterable {
    /// Done as asked: a stop signal ended a long-running command, help or a version was printed, the
    /// browser closed a native host's input.
    case success = 0
    /// Running failed: nothing could be opened, the tunnel failed, input ended inside a message.
    case failure = 1
    /// The command line or a configuration file is wrong (or an address is taken); nothing was started.
    case usage = 2

    /// Ends the process with this code, after the queued log lines are written.
    public func exit() -> Never {
        LogQueue.standardError.flush()
        Foundation.exit(rawValue)
    }
}
