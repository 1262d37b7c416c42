import Foundation
import Synchronization

/// App connections opened until stopped, at a steady pace, each counted by what became of it. The one load
/// generator of the integration tests: one connection after another (the default), or, `overlapping`,
/// each on a thread of its own so connections that last (held across a drain) outlive the pace.
public final class LoadLoop: Sendable {
    public enum Outcome: Sendable, Equatable {
        case echoed
        /// EOF or reset without data: the tunnel refused it cleanly.
        case refused
        case wrong
        /// No answer within the socket's timeout.
        case hung
    }

    public struct Counts: Sendable {
        public var echoed = 0
        public var refused = 0
        public var wrong = 0
        public var hung = 0
        /// Connections started and ended (they differ only while overlapping connections run).
        public var started = 0
        public var finished = 0
        /// What the connections that did not echo said about it, in the order they ended.
        public var failures: [String] = []

        /// Every connection that did not echo.
        public var failed: Int { refused + wrong + hung }
    }

    public let counts = Mutex(Counts())
    /// The counts now.
    public var now: Counts { counts.withLock { $0 } }
    private let stopping = Atomic(false)
    private let finished = DispatchSemaphore(value: 0)
    private let wakeUp = DispatchSemaphore(value: 0)

    /// Starts at once. `connection(n)` opens the n-th connection (from 1), and says how it went and, when
    /// it did not echo, why. `pace`: the pause between starts (20 ms: about 50 a second).
    public init(
        pace: DispatchTimeInterval = .milliseconds(20), overlapping: Bool = false,
        _ connection: @escaping @Sendable (UInt64) -> (Outcome, String?)
    ) {
        Thread { [self] in
            var number: UInt64 = 0
            while !stopping.load(ordering: .relaxed) {
                number += 1
                counts.withLock { $0.started += 1 }
                if overlapping {
                    Thread.detachNewThread { [self, number] in record(connection(number)) }
                } else {
                    record(connection(number))
                }
                // stop() ends the pause at once.
                _ = wakeUp.wait(timeout: .now() + pace)
            }
            finished.signal()
        }.start()
    }

    /// One connection after another, about 50 a second.
    public convenience init(_ connection: @escaping @Sendable () -> Outcome) {
        self.init { _ in (connection(), nil) }
    }

    private func record(_ result: (Outcome, String?)) {
        counts.withLock { counts in
            counts.finished += 1
            switch result.0 {
            case .echoed: counts.echoed += 1
            case .refused: counts.refused += 1
            case .wrong: counts.wrong += 1
            case .hung: counts.hung += 1
            }
            if result.0 != .echoed { counts.failures.append(result.1 ?? "\(result.0)") }
        }
    }

    /// Stops starting connections and waits (bounded) for the started ones to end; returns the counts. A
    /// second call only returns them.
    @discardableResult
    public func stop() -> Counts {
        if !stopping.exchange(true, ordering: .relaxed) {
            wakeUp.signal()
            _ = finished.wait(timeout: .now() + 30)
            _ = TestKit.poll(timeout: 30) { counts.withLock { $0.finished == $0.started } }
        }
        return counts.withLock { $0 }
    }

    deinit { stopping.store(true, ordering: .relaxed) }
}
