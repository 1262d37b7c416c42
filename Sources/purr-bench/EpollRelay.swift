import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One hop of the bench's own two-hop relay for `connect` and `rate`: what a C relay (nginx's stream
/// module, HAProxy) does per connection and no more. One thread runs a level-triggered epoll loop
/// (`EpollLoop`); per connection it accepts, starts a non-blocking connect onward, and copies through
/// one 16 KiB buffer per direction. No thread, task or queue hop per connection, no allocation besides
/// the buffers. With another behavior the same hop speaks Purr's upgrade first (the wire floor).
final class EpollRelay: Sendable {
    let port: Int
    private let wake: Int32
    private let finished = DispatchSemaphore(value: 0)
    /// The loop thread's CPU clock, once it runs.
    private let clock = ThreadClock()

    /// A plain relay hop.
    convenience init(next: Int) throws(BenchError) {
        try self.init(next: next, behavior: PlainRelay())
    }

    init<Behavior: EpollBehavior>(next: Int, behavior: Behavior) throws(BenchError) {
        let listener = try Listener()
        _ = fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK)
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            listener.close()
            throw BenchError.errno("pipe")
        }
        let loop: EpollLoop<Behavior>
        do {
            loop = try EpollLoop(listener: listener.fd, wake: ends[0], next: next, behavior: behavior)
        } catch {
            listener.close()
            close(ends[0])
            close(ends[1])
            throw error
        }
        port = listener.port
        wake = ends[1]
        let finished = finished
        let clock = clock
        Threads.detach("relay-\(listener.port)") {
            var id = clockid_t()
            if pthread_getcpuclockid(pthread_self(), &id) == 0 { clock.id.withLock { $0 = id } }
            loop.run()
            finished.signal()
        }
    }

    /// CPU seconds the loop's thread has used.
    var cpuSeconds: Double {
        guard let id = clock.id.withLock({ $0 }) else { return 0 }
        var time = timespec()
        guard clock_gettime(id, &time) == 0 else { return 0 }
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Ends the loop, which closes every socket it holds (bounded wait).
    func stop() {
        var one: UInt8 = 1
        _ = write(wake, &one, 1)
        _ = finished.wait(timeout: .now() + 5)
        close(wake)
    }
}

/// The CPU clock of the loop's thread, set by that thread.
private final class ThreadClock: Sendable {
    let id = Mutex<clockid_t?>(nil)
}
