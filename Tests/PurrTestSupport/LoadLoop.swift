import Foundation
import Synchronization

/// Connections opened one after another on a thread until stopped, with what became of each.
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
    }

    public let counts = Mutex(Counts())
    private let stopping = Atomic(false)
    private let finished = DispatchSemaphore(value: 0)
    private let wakeUp = DispatchSemaphore(value: 0)

    public init(_ connection: @escaping @Sendable () -> Outcome) {
        Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                let outcome = connection()
                counts.withLock { counts in
                    switch outcome {
                    case .echoed: counts.echoed += 1
                    case .refused: counts.refused += 1
                    case .wrong: counts.wrong += 1
                    case .hung: counts.hung += 1
                    }
                }
                // Pacing: about 50 connections a second keeps the load steady; stop() ends the pause at once.
                _ = wakeUp.wait(timeout: .now() + .milliseconds(20))
            }
            finished.signal()
        }.start()
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wakeUp.signal()
        _ = finished.wait(timeout: .now() + 30)
    }

    deinit { stopping.store(true, ordering: .relaxed) }
}
