import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One hop of the bench's own two-hop relay for `connect` and `rate`: what a C relay (nginx's stream
/// module, HAProxy) does per connection and no more. One thread runs a level-triggered epoll loop;
/// per connection it accepts, starts a non-blocking connect onward, and copies through one 16 KiB
/// buffer per direction. No thread, task or queue hop per connection, no allocation besides the buffers.
final class EpollRelay: Sendable {
    let port: Int
    private let wake: Int32
    private let finished = DispatchSemaphore(value: 0)
    /// The loop thread's CPU clock, once it runs.
    private let clock = ThreadClock()

    init(next: Int) throws(BenchError) {
        let listener = try Listener()
        _ = fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK)
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            listener.close()
            throw BenchError.errno("pipe")
        }
        let loop: EpollLoop
        do {
            loop = try EpollLoop(listener: listener.fd, wake: ends[0], next: next)
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

/// The loop's state, touched only by the loop's thread (handed to it once, never shared).
private final class EpollLoop: @unchecked Sendable {
    /// One direction of a link: bytes read from its socket not yet written to the other one.
    struct Half {
        var pending = 0
        var offset = 0
        /// Input ended on this socket (read returned 0).
        var ended = false
        /// The events this socket is registered for.
        var interest: UInt32 = 0
    }

    /// Both sockets of one relayed connection, with one buffer per direction.
    final class Link {
        let fds: (Int32, Int32)
        let buffers: (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer)
        var halves = (Half(), Half())

        init(_ a: Int32, _ b: Int32) {
            fds = (a, b)
            buffers = (
                UnsafeMutableRawBufferPointer.allocate(byteCount: EpollLoop.bufferSize, alignment: 16),
                UnsafeMutableRawBufferPointer.allocate(byteCount: EpollLoop.bufferSize, alignment: 16)
            )
        }

        func fd(_ side: Int) -> Int32 { side == 0 ? fds.0 : fds.1 }
        func buffer(_ side: Int) -> UnsafeMutableRawBufferPointer { side == 0 ? buffers.0 : buffers.1 }

        subscript(side: Int) -> Half {
            get { side == 0 ? halves.0 : halves.1 }
            set { if side == 0 { halves.0 = newValue } else { halves.1 = newValue } }
        }

        func release() {
            close(fds.0)
            close(fds.1)
            buffers.0.deallocate()
            buffers.1.deallocate()
        }
    }

    static let bufferSize = 16 * 1024
    let epoll: Int32
    let listener: Int32
    let wake: Int32
    var target: sockaddr_in
    /// Indexed by fd: the link that socket belongs to (side 0: accepted, side 1: onward).
    var links: [Link?] = Array(repeating: nil, count: 1024)

    init(listener: Int32, wake: Int32, next: Int) throws(BenchError) {
        epoll = Epoll.create(Epoll.cloexec)
        guard epoll >= 0 else { throw BenchError.errno("epoll_create1") }
        self.listener = listener
        self.wake = wake
        target = Socket.loopback(port: next)
        control(Epoll.add, listener, Epoll.readable)
        control(Epoll.add, wake, Epoll.readable)
    }

    func run() {
        let capacity = 256
        let events = UnsafeMutableRawPointer.allocate(byteCount: capacity * Epoll.eventSize, alignment: 16)
        defer { events.deallocate() }
        running: while true {
            let count = Epoll.wait(epoll, events, Int32(capacity), -1)
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in 0..<Int(count) {
                let (fd, flags) = Epoll.event(events, index)
                if fd == wake { break running }
                if fd == listener {
                    acceptAll()
                } else if let link = links[Int(fd)] {
                    handle(link, side: link.fds.0 == fd ? 0 : 1, events: flags)
                }
            }
        }
        for (fd, link) in links.enumerated() where link?.fds.0 == Int32(fd) { link?.release() }
        links = []
        _ = shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        close(wake)
        close(epoll)
    }

    private func acceptAll() {
        while true {
            let inbound = Epoll.accept4(listener, nil, nil, Epoll.nonblock | Epoll.cloexec)
            if inbound < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EAGAIN: all taken
            }
            let outbound = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Epoll.nonblock | Epoll.cloexec, 0)
            guard outbound >= 0 else {
                close(inbound)
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(inbound, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(outbound, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let started = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(outbound, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard started == 0 || errno == EINPROGRESS else {
                close(inbound)
                close(outbound)
                continue
            }
            let link = Link(inbound, outbound)
            while links.count <= Int(max(inbound, outbound)) { links += Array(repeating: nil, count: links.count) }
            links[Int(inbound)] = link
            links[Int(outbound)] = link
            // Until the connect completes, writes onward fail with EAGAIN and wait for EPOLLOUT.
            for side in 0..<2 {
                link[side].interest = Epoll.readable
                control(Epoll.add, link.fd(side), Epoll.readable)
            }
        }
    }

    /// Writes what `side` is owed by the other socket, then reads from `side` if its buffer is free.
    private func handle(_ link: Link, side: Int, events: UInt32) {
        let other = 1 - side
        if events & Epoll.error != 0 { return drop(link) }  // a reset or a refused connect
        if link[other].pending > 0 {
            guard flush(link, from: other) else { return drop(link) }
        }
        if link[side].pending == 0 && !link[side].ended {
            let buffer = link.buffer(side)
            let count = read(link.fd(side), buffer.baseAddress!, buffer.count)
            if count > 0 {
                link[side].pending = count
                link[side].offset = 0
                guard flush(link, from: side) else { return drop(link) }
            } else if count == 0 {
                link[side].ended = true
                _ = shutdown(link.fd(other), Int32(SHUT_WR))  // pass the half-close on
            } else if errno != EAGAIN && errno != EINTR {
                return drop(link)
            }
        }
        if link[0].ended && link[1].ended && link[0].pending == 0 && link[1].pending == 0 { return drop(link) }
        update(link, side: 0)
        update(link, side: 1)
    }

    /// Writes the bytes read from `side` to the other socket, as far as it takes them; false on an error.
    private func flush(_ link: Link, from side: Int) -> Bool {
        let other = 1 - side
        while link[side].pending > 0 {
            let start = link.buffer(side).baseAddress! + link[side].offset
            let written = send(link.fd(other), start, link[side].pending, Int32(MSG_NOSIGNAL))
            if written < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == ENOTCONN  // full, or not connected yet: EPOLLOUT says when
            }
            link[side].pending -= written
            link[side].offset += written
        }
        return true
    }

    /// A socket is read while its buffer is empty and written while the other side has bytes for it.
    private func update(_ link: Link, side: Int) {
        var wanted: UInt32 = 0
        if link[side].pending == 0 && !link[side].ended { wanted |= Epoll.readable }
        if link[1 - side].pending > 0 { wanted |= Epoll.writable }
        guard wanted != link[side].interest else { return }
        link[side].interest = wanted
        control(Epoll.modify, link.fd(side), wanted)
    }

    private func drop(_ link: Link) {
        for side in 0..<2 {
            control(Epoll.delete, link.fd(side), 0)
            links[Int(link.fd(side))] = nil
        }
        link.release()
    }

    private func control(_ operation: Int32, _ fd: Int32, _ events: UInt32) {
        var event: (UInt64, UInt64) = (0, 0)  // room for either layout, on the stack
        withUnsafeMutableBytes(of: &event) { bytes in
            bytes.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            bytes.storeBytes(of: fd, toByteOffset: Epoll.dataOffset, as: Int32.self)
            _ = Epoll.control(epoll, operation, fd, bytes.baseAddress!)
        }
    }
}

/// epoll(7), accept4(2) and their constants: Swift's Glibc module leaves out <sys/epoll.h> and the
/// GNU calls, so they are looked up once, as `HopRelay` does for splice(2).
private enum Epoll {
    static let readable: UInt32 = 0x001  // EPOLLIN
    static let writable: UInt32 = 0x004  // EPOLLOUT
    static let error: UInt32 = 0x008  // EPOLLERR
    static let add: Int32 = 1  // EPOLL_CTL_ADD
    static let delete: Int32 = 2  // EPOLL_CTL_DEL
    static let modify: Int32 = 3  // EPOLL_CTL_MOD
    static let cloexec: Int32 = 0o2_000_000  // EPOLL_CLOEXEC, SOCK_CLOEXEC
    static let nonblock: Int32 = 0o4000  // SOCK_NONBLOCK
    // struct epoll_event is packed on x86-64 (4-byte events, 8-byte data), padded elsewhere.
    #if arch(x86_64)
        static let eventSize = 12
        static let dataOffset = 4
    #else
        static let eventSize = 16
        static let dataOffset = 8
    #endif

    static let create = unsafeBitCast(dlsym(nil, "epoll_create1")!, to: (@convention(c) (Int32) -> Int32).self)
    static let control = unsafeBitCast(
        dlsym(nil, "epoll_ctl")!, to: (@convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32).self)
    static let wait = unsafeBitCast(
        dlsym(nil, "epoll_wait")!, to: (@convention(c) (Int32, UnsafeMutableRawPointer, Int32, Int32) -> Int32).self)
    static let accept4 = unsafeBitCast(
        dlsym(nil, "accept4")!,
        to: (@convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32).self)

    /// The fd and the event flags of the `index`th event epoll_wait filled in.
    static func event(_ events: UnsafeMutableRawPointer, _ index: Int) -> (fd: Int32, flags: UInt32) {
        let base = events + index * eventSize
        return (base.loadUnaligned(fromByteOffset: dataOffset, as: Int32.self), base.loadUnaligned(as: UInt32.self))
    }
}
