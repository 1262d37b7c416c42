import Synchronization

/// Fired once when a drain is asked for (an admin `POST /drain`); whoever runs the process waits for it
/// to start the shutdown that a stop signal would start. Waiters wake when it fires or when cancelled.
final class DrainSignal: Sendable {
    private let state = Mutex<(fired: Bool, next: UInt64, waiting: [UInt64: CheckedContinuation<Void, Never>])>((false, 0, [:]))

    func fire() {
        let woken = state.withLock { state in
            state.fired = true
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once fired (at once if it already was), or when the task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    if state.fired || Task.isCancelled { return true }
                    state.waiting[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
        }
    }
}
