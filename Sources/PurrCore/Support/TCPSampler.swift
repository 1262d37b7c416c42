import NIOCore
import Synchronization

/// The latest `TCPHealth` of one socket, refreshed at most once per `every` when someone reads it, on
/// the socket's own event loop: reading stats costs one getsockopt per interval, never one per read.
public final class TCPSampler: Sendable {
    struct Shared {
        var latest: TCPHealth?
        var sampled: ContinuousClock.Instant?
        var pending = false
        var channel: (any Channel)?
    }

    private let shared = Mutex(Shared())
    public let every: Duration
    /// Someone in this process has read a sampler: from then on `watch` takes the first reading at once.
    /// Until then nobody looks (a bare `purr connect`, a server whose admin port nobody asked), and a
    /// connection does not pay a getsockopt nobody reads.
    static let readersSeen = Atomic<Bool>(false)

    public init(every: Duration = .milliseconds(900)) {
        self.every = every
    }

    /// The socket to watch (nil stops watching and lets the channel go). Once this process has had a
    /// reader, the first reading is asked for at once: a reader that came first used to get nothing (the
    /// kernel was asked only then, and answers later). Called on the channel's event loop, as the server
    /// and the client do, the reading is there when this returns.
    public func watch(_ channel: (any Channel)?) {
        shared.withLock {
            $0.channel = channel
            $0.sampled = nil
        }
        if channel != nil && Self.readersSeen.load(ordering: .relaxed) { sample() }
    }

    /// The last reading, without asking for a new one.
    public var cached: TCPHealth? {
        Self.noteReader()
        return shared.withLock { $0.latest }
    }

    /// The last reading; asks for a new one when the last is older than `every`. On the socket's own event
    /// loop the new reading is taken at once and returned.
    public var latest: TCPHealth? {
        Self.noteReader()
        return sample()
    }

    /// This process will have readers (an admin port, a screen): take first readings from the start.
    public static func expectReaders() {
        noteReader()
    }

    private static func noteReader() {
        if !readersSeen.load(ordering: .relaxed) { readersSeen.store(true, ordering: .relaxed) }
    }

    @discardableResult
    private func sample() -> TCPHealth? {
        let now = ContinuousClock.now
        let (latest, channel) = shared.withLock { state -> (TCPHealth?, (any Channel)?) in
            guard let channel = state.channel, !state.pending, state.sampled.map({ now - $0 >= every }) ?? true else {
                return (state.latest, nil)
            }
            state.pending = true
            state.sampled = now
            return (state.latest, channel)
        }
        guard let channel else { return latest }
        // On the channel's loop the future is already complete and this runs before `whenComplete` returns.
        TCPHealth.read(channel).whenComplete { result in
            let health = (try? result.get()) ?? nil
            self.shared.withLock { state in
                state.pending = false
                if let health { state.latest = health }
            }
        }
        return shared.withLock { $0.latest }
    }
}
