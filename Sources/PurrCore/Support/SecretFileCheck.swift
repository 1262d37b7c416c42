import Foundation
import Synchronization

/// Warns, as OpenSSH does for keys, about a file holding secrets (a TLS key, a token file, a JWT key, a
/// config with tokens) that other users can read: one line at start, once per file in a process. Readable
/// by its group is fine when that group is the process's own (`root:purr 0640` for a service running as
/// purr); readable by everyone never is.
public enum SecretFileCheck {
    private static let warned = Mutex<Set<String>>([])

    /// The warning line for `path`, or nil when it is private enough (or cannot be read at all).
    public static func warning(for path: String, program: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let mode = info.st_mode & 0o777
        let who: String
        if mode & 0o004 != 0 {
            who = "others"
        } else if mode & 0o040 != 0, info.st_gid != getegid() {
            who = "its group"
        } else {
            return nil
        }
        let octal = String(mode, radix: 8)
        let padded = String(repeating: "0", count: max(0, 4 - octal.count)) + octal
        return "\(program): warning: \(path) is readable by \(who) (mode \(padded)) and holds secrets; chmod 600 it"
    }

    /// Writes `warning(for:program:)` to standard error, the first time for each path. Returns the line.
    @discardableResult
    public static func warn(_ path: String, program: String) -> String? {
        guard let line = warning(for: path, program: program) else { return nil }
        guard warned.withLock({ $0.insert(path).inserted }) else { return nil }
        CommandLineSupport.printError(line)
        return line
    }
}
