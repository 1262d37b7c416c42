import Synchronization

/// Tasks waiting for a collection to become empty (the open channels, the live connections): the
/// owner calls `emptied()` when it removes the last element; a waiter wakes then or when its timeout
/// passes, never by looking again and again.
final class EmptyWaiters: Sendable {
    private let state = Mutex<(next: UInt64, waiting: [UInt64: CheckedContinuation<Void, Never>])>((0, [:]))

    /// Wakes everyone waiting; the owner calls it after removing its last element.
    func emptied() {
        let woken = state.withLock { state in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// True once `isEmpty()` holds, false when `timeout` passes first.
    func wait(timeout: Duration, isEmpty: @escaping @Sendable () -> Bool) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait(isEmpty: isEmpty)
                return !Task.isCancelled
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Returns once `isEmpty()` holds (checked after registering, so an `emptied()` between the two is
    /// not missed) or the task is cancelled.
    private func wait(isEmpty: @Sendable () -> Bool) async {
        let id = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                state.withLock { $0.waiting[id] = continuation }
                if isEmpty() || Task.isCancelled { resume(id) }
            }
        } onCancel: {
            resume(id)
        }
    }

    /// Resumes one waiter if it is still waiting (whoever removes it resumes it, exactly once).
    private func resume(_ id: UInt64) {
        state.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
    }
}
