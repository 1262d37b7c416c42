import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A release build of `purr-server` or `purr` run as its own process, so its memory can be read
/// from `/proc/PID/status` apart from the bench's.
final class ChildProcess {
    let name: String
    private let process = Process()
    private let output = Pipe()
    private let logPath: String

    var pid: Int32 { process.processIdentifier }

    /// Starts `executable` with `arguments`; its standard error goes to `logPath`.
    init(_ executable: String, _ arguments: [String], logPath: String) throws {
        name = (executable as NSString).lastPathComponent
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
    }

    /// Waits (bounded) for a standard-output line that starts with `prefix` and returns the port at its end.
    func waitForPort(afterPrefix prefix: String, timeout: Double = 20) throws -> Int {
        let fd = output.fileHandleForReading.fileDescriptor
        let deadline = Clock.seconds() + timeout
        var text = ""
        var byte: UInt8 = 0
        while Clock.seconds() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            guard read(fd, &byte, 1) == 1 else { break }
            if byte != 0x0a {
                text.append(Character(UnicodeScalar(byte)))
                continue
            }
            if text.hasPrefix(prefix), let port = text.split(separator: ":").last.flatMap({ Int($0) }) { return port }
            text = ""
        }
        stop()
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").last.map(String.init)
        throw BenchError("\(name) did not print '\(prefix)…' within \(Int(timeout)) s: \(log ?? "no output") (\(logPath))")
    }

    var isRunning: Bool { process.isRunning }

    /// Waits (bounded) until something accepts on 127.0.0.1:`port`; false if the program ended or the time ran out.
    func waitForListener(port: Int, timeout: Double = 10) -> Bool {
        let deadline = Clock.seconds() + timeout
        while Clock.seconds() < deadline {
            if let socket = try? Socket.connect(port: port, timeout: 1) {
                socket.close()
                return true
            }
            guard isRunning else { return false }
            Clock.sleep(0.02)
        }
        return false
    }

    /// Resident memory now, in bytes (`VmRSS`).
    var rss: Int { ProcStatus.rss(pid: pid) }

    /// CPU seconds used so far (user + system).
    var cpuSeconds: Double { ProcStatus.cpuSeconds(pid: pid) }

    /// SIGTERM, then SIGKILL if it has not exited within 5 s; always reaped.
    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Clock.seconds() + 5
        while process.isRunning && Clock.seconds() < deadline { Clock.sleep(0.01) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}
