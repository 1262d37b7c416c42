#if canImport(Glibc)
    import Glibc
#endif

/// The loop of one epoll hop, touched only by its thread (handed to it once, never shared):
/// level-triggered, it accepts, connects onward without blocking and copies both ways with
/// half-closure; `Behavior` decides when to connect and reads the heads of a handshake, if any.
final class EpollLoop<Behavior: EpollBehavior>: @unchecked Sendable {
    /// The longest HTTP head a hop collects before it gives up on the connection.
    let headLimit = 8 * 1024
    let epoll: Int32
    let listener: Int32
    let wake: Int32
    var target: sockaddr_in
    var behavior: Behavior
    /// Indexed by fd: the link that socket belongs to.
    var links: [EpollLink?] = Array(repeating: nil, count: 1024)

    init(listener: Int32, wake: Int32, next: Int, behavior: Behavior) throws(BenchError) {
        epoll = Epoll.create(Epoll.cloexec)
        guard epoll >= 0 else { throw BenchError.errno("epoll_create1") }
        self.listener = listener
        self.wake = wake
        self.behavior = behavior
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
            Self.noDelay(inbound)
            let link = EpollLink(inbound)
            guard !behavior.accepted(link) || connectOnward(link) else {
                link.release()
                continue
            }
            store(link, inbound)
            // Until the connect completes, writes onward fail with EAGAIN and wait for EPOLLOUT.
            update(link, side: 0)
            update(link, side: 1)
        }
    }

    /// Starts the non-blocking connect to the next hop as side 1 of `link`; false if it failed at once.
    private func connectOnward(_ link: EpollLink) -> Bool {
        let outbound = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Epoll.nonblock | Epoll.cloexec, 0)
        guard outbound >= 0 else { return false }
        Self.noDelay(outbound)
        let started = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(outbound, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard started == 0 || errno == EINPROGRESS else {
            close(outbound)
            return false
        }
        link.fds.1 = outbound
        link.connecting = Behavior.awaitsConnect
        store(link, outbound)
        // On loopback the handshake has usually finished inside connect(2): a getpeername(2) that
        // succeeds says so, and saves waiting a loop turn for EPOLLOUT (which NIO always waits for).
        if link.connecting && Self.isConnected(outbound) { return completeConnect(link) }
        return true
    }

    /// The awaited connect of `link` completed: the behavior adds its bytes, and both sides flush.
    private func completeConnect(_ link: EpollLink) -> Bool {
        link.connecting = false
        behavior.connected(link)
        return flush(link, from: 1) && flush(link, from: 0)
    }

    private static func isConnected(_ fd: Int32) -> Bool {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
    }

    private func store(_ link: EpollLink, _ fd: Int32) {
        while links.count <= Int(fd) { links += Array(repeating: nil, count: links.count) }
        links[Int(fd)] = link
    }

    /// Writes what `side` is owed by the other socket, then reads from `side` if its buffer is free.
    private func handle(_ link: EpollLink, side: Int, events: UInt32) {
        let other = 1 - side
        if events & Epoll.error != 0 { return drop(link) }  // a reset or a refused connect
        if side == 1 && link.connecting && events & Epoll.writable != 0 {
            guard completeConnect(link) else { return drop(link) }
        }
        if link[other].pending > 0 {
            guard flush(link, from: other) else { return drop(link) }
        }
        if side == link.heading {
            if events & Epoll.readable != 0 {
                guard readHead(link) else { return drop(link) }
            }
        } else if link[side].pending == 0 && !link[side].ended {
            let buffer = link.buffer(side)
            let count = read(link.fd(side), buffer.baseAddress!, buffer.count)
            if count > 0 {
                link[side].pending = count
                link[side].offset = 0
                guard flush(link, from: side) else { return drop(link) }
            } else if count == 0 {
                link[side].ended = true
            } else if errno != EAGAIN && errno != EINTR {
                return drop(link)
            }
        }
        settle(link)
    }

    /// Collects the head on `link.heading` and, once it ends, lets the behavior judge it; false: drop.
    private func readHead(_ link: EpollLink) -> Bool {
        let side = link.heading
        let start = link.headLength
        let room = min(headLimit, EpollLink.bufferSize) - start
        let count = read(link.fd(side), link.buffer(side).baseAddress! + start, room)
        if count < 0 { return errno == EAGAIN || errno == EINTR }
        guard count > 0 else { return false }  // closed before the head ended
        link.headLength += count
        guard let end = Self.blankLine(in: UnsafeRawBufferPointer(link.buffer(side)), from: max(0, start - 3), to: link.headLength) else {
            return link.headLength < headLimit
        }
        let verdict = behavior.headEnded(link, at: end)
        if verdict == .drop { return false }
        link.heading = -1
        link[side].offset = end
        link[side].pending = link.headLength - end
        if verdict == .connect { return connectOnward(link) }
        return flush(link, from: side)
    }

    /// The index just past the first CR LF CR LF in `bytes[from..<to]`.
    private static func blankLine(in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        var index = from
        while index + 4 <= to {
            if bytes[index] == 0x0d && bytes[index + 1] == 0x0a && bytes[index + 2] == 0x0d && bytes[index + 3] == 0x0a {
                return index + 4
            }
            index += 1
        }
        return nil
    }

    /// Writes the bytes read from `side` to the other socket, as far as it takes them; false on an error.
    private func flush(_ link: EpollLink, from side: Int) -> Bool {
        let other = 1 - side
        if other == 1 && link.connecting { return true }  // the connect's completion flushes
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

    /// Passes a drained end of input on, closes a link done both ways, and sets what each socket waits for.
    private func settle(_ link: EpollLink) {
        for side in 0..<2 where link[side].ended && link[side].pending == 0 && !link[side].passedOn && !link.connecting {
            link[side].passedOn = true
            _ = shutdown(link.fd(1 - side), Int32(SHUT_WR))
        }
        if link[0].ended && link[1].ended && link[0].pending == 0 && link[1].pending == 0 { return drop(link) }
        update(link, side: 0)
        update(link, side: 1)
    }

    /// A socket is read while its buffer is empty and written while the other side has bytes for it
    /// (or, side 1, while its connect is awaited).
    private func update(_ link: EpollLink, side: Int) {
        let fd = link.fd(side)
        guard fd >= 0 else { return }
        var wanted: UInt32 = 0
        if link[side].pending == 0 && !link[side].ended { wanted |= Epoll.readable }
        if link[1 - side].pending > 0 || (side == 1 && link.connecting) { wanted |= Epoll.writable }
        guard wanted != link[side].interest else { return }
        control(link[side].interest == nil ? Epoll.add : Epoll.modify, fd, wanted)
        link[side].interest = wanted
    }

    private func drop(_ link: EpollLink) {
        for side in 0..<2 where link.fd(side) >= 0 {
            if link[side].interest != nil { control(Epoll.delete, link.fd(side), 0) }
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

    private static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
