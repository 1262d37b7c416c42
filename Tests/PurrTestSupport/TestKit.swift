import Crypto
import Foundation

/// Small shared helpers: bounded polling, payloads, hashes, process memory.
public enum TestKit {
    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    public static func poll(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    /// Checks that `condition` keeps holding for `duration` seconds, every `interval`: false as soon as it
    /// does not. For what must *not* happen over a window (no refills against a down server, a backoff
    /// that holds): the invariant is watched the whole time, not looked at once after a sleep.
    public static func holds(for duration: Double, every interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(duration)
        while Date() < deadline {
            if try !condition() { return false }
            usleep(useconds_t(interval * 1_000_000))
        }
        return try condition()
    }

    /// Async version of `poll`.
    @discardableResult
    public static func pollAsync(timeout: Double = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }

    /// Deterministic pseudo-random bytes (xorshift), fast enough for 64 MiB in a debug build.
    public static func randomPayload(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
        var state = seed
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                words[i] = state
            }
        }
        return bytes
    }

    public static func sha256(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).hex }

    /// User + system CPU seconds a process has used (fields 14 and 15 of /proc/PID/stat).
    public static func cpuSeconds(pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else {
            return 0
        }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Polls (bounded) until a process uses under `share` of one core over a window of at least
    /// `window` seconds: a process left spinning never gets there.
    @discardableResult
    public static func settlesIdle(pid: Int32, share: Double = 0.1, window: Double = 1, timeout: Double = 15) -> Bool {
        var start = (time: Date(), cpu: cpuSeconds(pid: pid))
        return poll(timeout: timeout) {
            let elapsed = Date().timeIntervalSince(start.time)
            guard elapsed >= window else { return false }
            let used = cpuSeconds(pid: pid) - start.cpu
            start = (Date(), cpuSeconds(pid: pid))
            return used / elapsed < share
        }
    }

    /// Resident memory of a process in bytes (from /proc).
    public static func residentBytes(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").compactMap { Int($0) }.first
            return digits.map { $0 * 1024 }
        }
        return nil
    }
}

/// Streams a payload in and hashes what comes back, on two threads, through one socket.
public enum Duplex {
    public struct Outcome: Sendable {
        public let receivedBytes: Int
        public let receivedSHA256: String
    }

    /// Sends `payload` (then half-closes) while reading to EOF; returns what was read. With `expect`,
    /// reads exactly that many bytes and never half-closes (for paths without half-close, like nginx).
    public static func exchange(_ socket: BlockingSocket, payload: [UInt8], prefix: [UInt8] = [], expect: Int? = nil) throws -> Outcome {
        let sendError = SendBox()
        let sender = Thread {
            do {
                try payload.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let end = min(offset + 1 << 20, raw.count)
                        try socket.write(raw: UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                        offset = end
                    }
                }
                if expect == nil { socket.shutdownWrite() }
            } catch {
                sendError.set("\(error)")
            }
            sendError.finish()
        }
        sender.start()
        var hasher = SHA256()
        hasher.update(data: prefix)
        var total = prefix.count
        var readError: (any Error)?
        do {
            while expect.map({ total < $0 }) ?? true {
                let chunk = try socket.read(max: min(1 << 20, expect.map { $0 - total } ?? 1 << 20))
                if chunk.isEmpty { break }
                total += chunk.count
                hasher.update(data: chunk)
            }
        } catch {
            readError = error
        }
        sendError.waitFinished(timeout: 60)
        if let message = sendError.message { throw BlockingSocket.Failure(description: "sender: \(message)") }
        if let readError { throw readError }
        return Outcome(receivedBytes: total, receivedSHA256: hasher.finalize().hex)
    }
}

final class SendBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var done = false
    private(set) var message: String?

    func set(_ message: String) {
        condition.lock()
        self.message = message
        condition.unlock()
    }

    func finish() {
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    func waitFinished(timeout: Double) {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        while !done && condition.wait(until: deadline) {}
        condition.unlock()
    }
}
