import NIOCore
import Synchronization

/// A reverse tunnel's held requests still waiting for the server's answer, so that stopping the tunnel
/// closes them at once (the server then releases the name) instead of leaving them to their refresh.
final class HeldChannels: Sendable {
    private let state = Mutex<(channels: [ObjectIdentifier: any Channel], closed: Bool)>(([:], false))

    /// Tracks `channel` until `remove`; false once closed (the caller closes it instead).
    func add(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    /// The request was answered or failed: no longer held.
    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int { state.withLock { $0.channels.count } }

    /// Closes every held request, and any added later.
    func closeAll() {
        let open = state.withLock { state in
            defer {
                state.channels = [:]
                state.closed = true
            }
            return Array(state.channels.values)
        }
        for channel in open { channel.close(promise: nil) }
    }
}
