import Foundation

/// One of the built executables, started by a test with its output in files; always stopped.
public final class RunningProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutURL: URL
    public let stderrURL: URL
    public let stdinPipe = Pipe()
    /// Standard error as a pipe nobody reads, when asked for (`stderrURL` then stays empty).
    public let unreadStderr: Pipe?

    /// The directory holding the built products (`.build/debug`).
    public static var productsDirectory: URL {
        let fromArgv = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: fromArgv.appendingPathComponent("purr-server").path) {
            return fromArgv
        }
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent(".build/debug")
    }

    /// Starts one of the built products.
    public convenience init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], stderrUnread: Bool = false
    ) throws {
        try self.init(
            absolute: Self.productsDirectory.appendingPathComponent(executable).path, arguments, environment: environment,
            stderrUnread: stderrUnread)
    }

    /// Starts any program by path.
    public init(
        absolute executable: String, _ arguments: [String], environment: [String: String] = [:], stderrUnread: Bool = false
    ) throws {
        unreadStderr = stderrUnread ? Pipe() : nil
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("purr-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        stdoutURL = dir.appendingPathComponent("stdout")
        stderrURL = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        if let unreadStderr {
            process.standardError = unreadStderr
        } else {
            process.standardError = try FileHandle(forWritingTo: stderrURL)
        }
        process.standardInput = stdinPipe
        try process.run()
    }

    deinit { stop() }

    /// Reads what waits in the unread standard error pipe until `text` appears (bounded); returns what was read.
    public func drainUnreadStderr(until text: String, timeout: Double = 10) -> String {
        guard let descriptor = unreadStderr?.fileHandleForReading.fileDescriptor else { return "" }
        var seen = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && !String(decoding: seen.suffix(1 << 16), as: UTF8.self).contains(text) {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            seen += buffer[0..<count]
        }
        return String(decoding: seen, as: UTF8.self)
    }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits (bounded) until standard output or error contains `text`.
    @discardableResult
    public func waitForOutput(_ text: String, timeout: Double = 20) -> Bool {
        TestKit.poll(timeout: timeout) { stdout.contains(text) || stderr.contains(text) || !process.isRunning }
            && (stdout.contains(text) || stderr.contains(text))
    }

    /// Waits (bounded) for the process to exit; returns its status, or nil if it is still running.
    public func waitForExit(timeout: Double = 20) -> Int32? {
        TestKit.poll(timeout: timeout) { !process.isRunning }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Sends a signal and waits for the exit.
    public func signal(_ number: Int32, timeout: Double = 20) -> Int32? {
        if process.isRunning { kill(process.processIdentifier, number) }
        return waitForExit(timeout: timeout)
    }

    /// Stops the process for good: SIGTERM, then SIGKILL.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if waitForExit(timeout: 5) == nil {
            kill(process.processIdentifier, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
    }

    /// Runs one of the built products to completion (bounded) and returns its status and output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 20)
        throws -> (status: Int32, stdout: String, stderr: String)
    {
        try run(absolute: productsDirectory.appendingPathComponent(executable).path, arguments, environment: environment, timeout: timeout)
    }

    /// Runs any program to completion (bounded).
    public static func run(absolute executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 20)
        throws -> (status: Int32, stdout: String, stderr: String)
    {
        let running = try RunningProcess(absolute: executable, arguments, environment: environment)
        guard let status = running.waitForExit(timeout: timeout) else {
            running.stop()
            throw BlockingSocket.Failure(description: "\(executable) did not exit within \(timeout) s")
        }
        return (status, running.stdout, running.stderr)
    }

    /// A free loopback port (bound then released).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
