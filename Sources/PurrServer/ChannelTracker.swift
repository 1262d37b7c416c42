import NIOCore
import Synchronization

/// The accepted channels still open, so a shutdown can wait for them or close them.
final class ChannelTracker: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])
    private let waiters = EmptyWaiters()

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            let empty = self.channels.withLock { channels in
                channels.removeValue(forKey: id)
                return channels.isEmpty
            }
            if empty { self.waiters.emptied() }
        }
    }

    var count: Int { channels.withLock { $0.count } }

    /// True once every tracked channel has closed, false when `timeout` passes first.
    func waitUntilEmpty(timeout: Duration) async -> Bool {
        await waiters.wait(timeout: timeout) { self.count == 0 }
    }

    /// Closes everything still open; returns how many there were.
    func closeAll() -> Int {
        let open = channels.withLock { Array($0.values) }
        for channel in open { channel.close(promise: nil) }
        return open.count
    }
}
