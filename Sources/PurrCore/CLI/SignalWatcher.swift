import Dispatch
import Foundation
import Synchronization

/// Waits for SIGINT or SIGTERM without a signal handler's restrictions (through Dispatch).
/// Unchecked: `sources` is written once in `init` and only kept alive afterwards.
public final class SignalWatcher: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let fired = Mutex<(signal: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    public init(signals: [Int32] = [SIGINT, SIGTERM]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.deliver(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func deliver(_ number: Int32) {
        let waiters = fired.withLock { state -> [CheckedContinuation<Int32, Never>] in
            if state.signal == nil { state.signal = number }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: number) }
    }

    /// Returns the first signal received (at once if one already came).
    public func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let already = fired.withLock { state -> Int32? in
                if let signal = state.signal { return signal }
                state.waiters.append(continuation)
                return nil
            }
            if let already { continuation.resume(returning: already) }
        }
    }
}
