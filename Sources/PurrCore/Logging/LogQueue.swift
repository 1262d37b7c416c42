import Dispatch
import Foundation
import Logging
import Synchronization

/// Log lines leave the event loops through here: a bounded queue in memory and one writer thread that
/// does the blocking writes. When the sink does not keep up (standard error on a pipe nobody reads, a
/// stalled terminal, a slow disk), lines are dropped and counted instead of stalling a relay; once the
/// sink drains, one line says how many were lost.
public final class LogQueue: Sendable {
    /// The queue in front of standard error, shared by everything in the process.
    public static let standardError = LogQueue(descriptor: STDERR_FILENO)

    /// Bytes that may wait before lines are dropped.
    public static let defaultCapacity = 256 << 10

    /// How long the writer gathers lines after the first one wakes it: a burst of connections costs one
    /// wake-up of this thread, not one per line (on a busy 2-core machine each wake-up competes with the
    /// event loops).
    static let gatherDelay: UInt32 = 5_000  // µs

    private struct State {
        var lines: [String] = []
        var bytes = 0
        /// Dropped since the last note about it.
        var droppedUnreported = 0
        var writerWaiting = false
        var writerStarted = false
    }

    private let descriptor: CInt
    private let capacity: Int
    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let drained = DispatchSemaphore(value: 0)
    private let droppedTotal = Atomic<Int>(0)

    public init(descriptor: CInt, capacity: Int = LogQueue.defaultCapacity) {
        self.descriptor = descriptor
        self.capacity = capacity
    }

    /// Lines dropped since the process started (`purr_log_lines_dropped_total`).
    public var dropped: Int { droppedTotal.load(ordering: .relaxed) }

    /// Queues one line (it ends in a newline). Never blocks on the sink.
    public func enqueue(_ line: String) {
        let size = line.utf8.count
        let (accepted, wake, start) = state.withLock { state -> (Bool, Bool, Bool) in
            guard state.bytes + size <= capacity else {
                state.droppedUnreported += 1
                return (false, false, false)
            }
            state.lines.append(line)
            state.bytes += size
            let wake = state.writerWaiting
            state.writerWaiting = false
            let start = !state.writerStarted
            state.writerStarted = true
            return (true, wake, start)
        }
        if !accepted {
            droppedTotal.add(1, ordering: .relaxed)
            return
        }
        if start {
            let thread = Thread { [self] in writeLoop() }
            thread.name = "purr-log-writer"
            thread.start()
        }
        if wake { wakeUp.signal() }
    }

    /// Waits (bounded) until what is queued now has been written: before the process exits.
    public func flush(timeout: Double = 1) {
        let pending = state.withLock { state -> Bool in
            guard state.writerStarted, !state.lines.isEmpty || !state.writerWaiting else { return false }
            return true
        }
        guard pending else { return }
        while drained.wait(timeout: .now()) == .success {}  // earlier idle moments do not count
        enqueue("")
        _ = drained.wait(timeout: .now() + timeout)
    }

    private func writeLoop() {
        while true {
            let (lines, dropped) = state.withLock { state -> ([String], Int) in
                let taken = (state.lines, state.droppedUnreported)
                state.lines.removeAll(keepingCapacity: true)
                state.bytes = 0
                state.droppedUnreported = 0
                if taken.0.isEmpty { state.writerWaiting = true }
                return taken
            }
            if lines.isEmpty && dropped == 0 {
                drained.signal()
                wakeUp.wait()
                usleep(Self.gatherDelay)
                continue
            }
            if dropped > 0 {
                write("purr: \(dropped) log line(s) dropped: the log output was not being read fast enough\n")
            }
            write(lines.joined())
        }
    }

    /// A blocking write of the whole string (this thread is the only one that may block on the sink).
    private func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // the sink is gone: nothing more can be said there
                }
                offset += written
            }
        }
    }
}
