import Foundation
import PurrCore
import Synchronization

/// Fans engine events out to any number of async streams. A slow consumer loses the oldest events
/// (its snapshot is always available), never blocks the engine.
final class EventHub: Sendable {
    private let continuations = Mutex<[UUID: AsyncStream<TunnelEvent>.Continuation]>([:])
    private let subscribers = Atomic<Int>(0)

    /// Whether anyone listens: an event nobody reads is not worth building (a snapshot reads TCP_INFO).
    var hasSubscribers: Bool { subscribers.load(ordering: .relaxed) > 0 }

    func stream() -> AsyncStream<TunnelEvent> {
        // A subscriber (the TUI) shows connections' TCP health: read it as each starts relaying.
        TCPSampler.expectReaders()
        let (stream, continuation) = AsyncStream<TunnelEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let id = UUID()
        continuations.withLock {
            $0[id] = continuation
            subscribers.store($0.count, ordering: .relaxed)
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            continuations.withLock {
                $0.removeValue(forKey: id)
                subscribers.store($0.count, ordering: .relaxed)
            }
        }
        return stream
    }

    func emit(_ event: TunnelEvent) {
        let targets = continuations.withLock { Array($0.values) }
        for continuation in targets { continuation.yield(event) }
    }

    func finish() {
        let targets = continuations.withLock { state -> [AsyncStream<TunnelEvent>.Continuation] in
            defer {
                state = [:]
                subscribers.store(0, ordering: .relaxed)
            }
            return Array(state.values)
        }
        for continuation in targets { continuation.finish() }
    }
}
