import Logging
import NIOCore
import Synchronization

/// A tunnel's warm pool: `size` connections to the server made ready ahead of the app (TCP, proxy
/// CONNECT and TLS done, nothing sent), so an app connection only costs the upgrade request. A used
/// connection is replaced at once; one that waited `refresh` is replaced before the server would time it
/// out; one the server closes is replaced, with a growing pause while the server keeps failing. All of a
/// pooled tunnel's connections live on one event loop, so every accepted connection can use any of them.
final class WarmPool: Sendable {
    let loop: any EventLoop
    let size: Int
    let refresh: TimeAmount
    private let logger: Logger
    private let state = Mutex(State())

    private struct Entry {
        let id: UInt64
        let connection: PooledConnection
        var expiry: Scheduled<Void>?
    }

    private struct State {
        var dialer: ServerDialer?
        var idle: [Entry] = []
        var pending = 0
        var nextID: UInt64 = 1
        var failuresInRow = 0
        var retryScheduled = false
        var counts = WarmPoolSnapshot(size: 0)
    }

    init(loop: any EventLoop, size: Int, refresh: TimeAmount, logger: Logger) {
        self.loop = loop
        self.size = size
        self.refresh = refresh
        self.logger = logger
        state.withLock { $0.counts.size = size }
    }

    /// Starts filling with connections made by `dialer` (the tunnel's proxy and TLS as opened).
    func start(dialer: ServerDialer) {
        state.withLock { $0.dialer = dialer }
        fill()
    }

    /// A ready connection, if one is waiting; its replacement is on its way.
    func take() -> PooledConnection? {
        let entry: Entry? = state.withLock { state in
            while !state.idle.isEmpty {
                let entry = state.idle.removeFirst()
                guard entry.connection.channel.isActive else { continue }
                state.counts.used += 1
                if entry.connection.made + .seconds(1) <= .now() { state.failuresInRow = 0 }
                return entry
            }
            state.counts.misses += 1
            return nil
        }
        entry?.expiry?.cancel()
        // The replacement is made after this turn of the loop: the app's request goes out first.
        loop.execute { self.fill() }
        return entry?.connection
    }

    /// Closes every waiting connection and stops refilling (until the next `start`).
    func close() {
        let entries = state.withLock { state -> [Entry] in
            state.dialer = nil
            defer { state.idle.removeAll() }
            return state.idle
        }
        for entry in entries {
            entry.expiry?.cancel()
            entry.connection.close()
        }
    }

    var snapshot: WarmPoolSnapshot {
        state.withLock { state in
            var counts = state.counts
            counts.idle = state.idle.count
            return counts
        }
    }

    // MARK: Filling

    private func fill() {
        let (dialer, ids) = state.withLock { state -> (ServerDialer?, [UInt64]) in
            guard let dialer = state.dialer, !state.retryScheduled else { return (nil, []) }
            let missing = size - state.idle.count - state.pending
            guard missing > 0 else { return (nil, []) }
            state.pending += missing
            let ids = (0..<UInt64(missing)).map { state.nextID + $0 }
            state.nextID += UInt64(missing)
            return (dialer, ids)
        }
        guard let dialer else { return }
        for id in ids {
            dialer.prepare(on: loop, lost: { reason in self.lost(id, reason: reason) }).whenComplete { result in
                switch result {
                case .success(let connection): self.add(Entry(id: id, connection: connection))
                case .failure(let error): self.failed(error)
                }
            }
        }
    }

    private func add(_ entry: Entry) {
        var entry = entry
        let id = entry.id
        entry.expiry = loop.scheduleTask(in: refresh) { self.expire(id) }
        let kept = state.withLock { state -> Bool in
            state.pending -= 1
            guard state.dialer != nil else { return false }
            state.idle.append(entry)
            state.counts.made += 1
            // Not a success yet: a server that closes ready connections at once (its per-peer limit, a
            // 503) would otherwise reset the pause every time and be asked again 24 times a second.
            return true
        }
        if !kept {
            entry.expiry?.cancel()
            entry.connection.close()
        }
    }

    private func failed(_ error: any Error) {
        let reason = (error as? HandshakeFailure)?.description ?? "\(error)"
        let pause = state.withLock { state -> TimeAmount? in
            state.pending -= 1
            state.counts.failed += 1
            state.counts.lastError = reason
            state.failuresInRow += 1
            if state.failuresInRow == 4 {
                logger.warning(
                    "warm pool: the server keeps refusing ready connections; refilling at most every 10 s",
                    metadata: ["reason": "\(reason)"])
            }
            guard state.dialer != nil, !state.retryScheduled else { return nil }
            state.retryScheduled = true
            // 0.25 s, doubling up to 10 s while the server keeps failing.
            let milliseconds = min(250 << min(state.failuresInRow - 1, 6), 10_000)
            return .milliseconds(Int64(milliseconds))
        }
        logger.debug("pool connection failed", metadata: ["reason": "\(reason)"])
        guard let pause else { return }
        loop.scheduleTask(in: pause) {
            self.state.withLock { $0.retryScheduled = false }
            self.fill()
        }
    }

    /// The server closed (or spoke on) a waiting connection.
    private func lost(_ id: UInt64, reason: String) {
        let entry = state.withLock { state -> Entry? in
            guard let index = state.idle.firstIndex(where: { $0.id == id }) else { return nil }
            state.counts.lost += 1
            return state.idle.remove(at: index)
        }
        guard let entry else { return }
        entry.expiry?.cancel()
        logger.debug("pool connection lost", metadata: ["reason": "\(reason)"])
        // Lost within a second of being made: the server does not keep them; back off as for a failure.
        if entry.connection.made + .seconds(1) > .now() {
            state.withLock { $0.pending += 1 }
            failed(HandshakeFailure("the server closed a pooled connection at once (\(reason))"))
        } else {
            state.withLock { $0.failuresInRow = 0 }
            fill()
        }
    }

    /// A connection waited `refresh`: replace it before the server's timeout for silent connections.
    private func expire(_ id: UInt64) {
        let entry = state.withLock { state -> Entry? in
            guard let index = state.idle.firstIndex(where: { $0.id == id }) else { return nil }
            state.counts.refreshed += 1
            state.failuresInRow = 0  // it lasted: the server keeps them
            return state.idle.remove(at: index)
        }
        guard let entry else { return }
        entry.connection.close()
        fill()
    }
}

/// A warm pool's state and counters, for `purr` status, the TUI and tests.
public struct WarmPoolSnapshot: Sendable, Equatable, Codable {
    public var size: Int
    /// Ready connections waiting now.
    public var idle = 0
    /// Connections made ready (all time).
    public var made = 0
    /// App connections that got a ready one.
    public var used = 0
    /// App connections that found none and dialed.
    public var misses = 0
    /// Replaced after waiting the refresh interval.
    public var refreshed = 0
    /// Closed by the server while waiting.
    public var lost = 0
    /// Attempts that did not get ready (server down, proxy or TLS refused).
    public var failed = 0
    public var lastError: String?

    public init(size: Int) {
        self.size = size
    }
}

extension WarmPoolSnapshot {
    /// Two pools' counts as one (a tunnel with several servers has a pool per server).
    func adding(_ other: WarmPoolSnapshot) -> WarmPoolSnapshot {
        var sum = self
        sum.size += other.size
        sum.idle += other.idle
        sum.made += other.made
        sum.used += other.used
        sum.misses += other.misses
        sum.refreshed += other.refreshed
        sum.lost += other.lost
        sum.failed += other.failed
        sum.lastError = other.lastError ?? lastError
        return sum
    }
}
