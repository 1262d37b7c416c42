import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    #error("ReverseListener is written for Linux (Glibc)")
#endif

/// The published side of one `[[reverse]]` entry: a TCP listener whose connections are accepted by a
/// thread of its own, so each can become a channel on the event loop of the held request it gets
/// (`RelaySession` joins two channels of one loop; a NIO listener decides the loop before it knows).
/// An accepted socket waits (at most `wait_timeout`, at most `max_waiting` of them) for a free held
/// request; with no client registered it is closed at once with a log line.
final class ReverseListener: @unchecked Sendable {
    let entry: ReverseEntry
    let group: any EventLoopGroup
    let logger: Logger
    private var listenFD: CInt = -1
    private var wakeFDs: [CInt] = [-1, -1]
    private let stopped = ManagedAtomicFlag()
    private let finished = DispatchSemaphore(value: 0)
    private(set) var address = HostPort(host: "127.0.0.1", port: 0)

    init(entry: ReverseEntry, group: any EventLoopGroup, logger: Logger) {
        self.entry = entry
        self.group = group
        self.logger = logger
    }

    /// Binds (an address in use fails here) and starts accepting.
    func start() throws {
        let listen = entry.listen ?? HostPort(host: "127.0.0.1", port: 0)
        let socketAddress = try SocketAddress.makeAddressResolvingHost(listen.host, port: listen.port)
        let fd = socket(
            socketAddress.protocol == .inet6 ? AF_INET6 : AF_INET,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ConfigError("reverse \(entry.name): cannot make a socket: \(String(cString: strerror(errno)))") }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        let bound = socketAddress.withSockAddr { Glibc.bind(fd, $0, socklen_t($1)) }
        guard bound == 0, Glibc.listen(fd, 1024) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ConfigError("reverse \(entry.name): cannot listen on \(listen): \(reason)")
        }
        listenFD = fd
        address = HostPort(host: listen.host, port: Self.localPort(fd) ?? listen.port)
        var fds: [CInt] = [-1, -1]
        guard pipe(&fds) == 0 else {
            close(fd)
            throw ConfigError("reverse \(entry.name): cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        for end in fds {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        wakeFDs = fds
        let wakeFD = fds[1]
        entry.slot.configure(entry, logger: logger, published: address) {
            var byte: UInt8 = 1
            _ = write(wakeFD, &byte, 1)
        }
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "purr-reverse-\(entry.name)"
        thread.start()
        logger.info(
            "reverse published",
            metadata: [
                "reverse": "\(entry.name)", "listen": "\(address)", "register": "\(entry.path)", "publish": "\(entry.publish ?? "-")",
            ])
    }

    /// Stops accepting; waiting connections are closed.
    func stop() {
        guard listenFD >= 0, !stopped.testAndSet() else { return }
        var byte: UInt8 = 1
        _ = write(wakeFDs[1], &byte, 1)
        finished.wait()
        for waiting in entry.slot.drainWaiting() { close(waiting.descriptor) }
        entry.slot.closeHeld()
        close(listenFD)
        close(wakeFDs[0])
        close(wakeFDs[1])
    }

    private func run() {
        var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFDs[0], events: Int16(POLLIN), revents: 0)]
        while !stopped.value {
            var timeout: CInt = 1000
            if let deadline = entry.slot.nextDeadline {
                let left = deadline - .now
                timeout = max(0, min(1000, CInt(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1))
            }
            _ = poll(&fds, 2, timeout)
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 256)
                while read(wakeFDs[0], &drain, 256) > 0 {}
            }
            if stopped.value { break }
            if fds[0].revents != 0 { acceptAll() }
            let (pairs, refused) = entry.slot.match(now: .now)
            for (waiting, reason) in refused { refuse(waiting, reason: reason) }
            for (waiting, hold) in pairs { hand(waiting, to: hold) }
        }
    }

    private func acceptAll() {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &length) }
            }
            guard fd >= 0 else { return }  // EAGAIN: all taken; other errors (EMFILE): poll again
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let waiting = ReverseSlot.Waiting(
                descriptor: fd, peer: Self.describe(storage), deadline: .now + .milliseconds(Int(entry.waitTimeout * 1000)))
            if let reason = entry.slot.arrived(waiting, maxWaiting: entry.maxWaiting) { refuse(waiting, reason: reason) }
        }
    }

    /// The accepted socket becomes a channel on the held request's loop and goes to its handler.
    private func hand(_ waiting: ReverseSlot.Waiting, to hold: ReverseHold) {
        guard let loop = hold.loop else {
            refuse(waiting, reason: "held_closed")
            return
        }
        ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
                    try SocketTuning.apply(to: channel, accepted: true)
                    try RelayHandOver.holdEarlyBytes(on: channel)
                }
            }
            .withConnectedSocket(waiting.descriptor)
            .whenComplete { result in
                switch result {
                case .success(let channel): hold.deliver(channel)
                case .failure(let error):
                    self.logger.notice(
                        "reverse connection failed",
                        metadata: ["reverse": "\(self.entry.name)", "reason": "\(ConnectFailure.describe(error))"])
                }
            }
    }

    private func refuse(_ waiting: ReverseSlot.Waiting, reason: String) {
        let why: String
        switch reason {
        case "not_registered": why = "no client has exposed \(entry.name)"
        case "wait_timeout": why = "no held request of \(entry.name) was free within \(entry.waitTimeout.formatted()) s"
        case "too_many_waiting": why = "\(entry.maxWaiting) connections already wait for \(entry.name)"
        default: why = "the held request closed as the connection arrived"
        }
        logger.notice("reverse connection refused", metadata: ["reverse": "\(entry.name)", "peer": "\(waiting.peer)", "reason": "\(why)"])
        close(waiting.descriptor)
    }

    private static func localPort(_ fd: CInt) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0 else { return nil }
        return numeric(storage, length: length).flatMap { Int($0.port) }
    }

    /// The numeric host and port of an address (getnameinfo: no lookups).
    private static func numeric(_ storage: sockaddr_storage, length: socklen_t) -> (host: String, port: String)? {
        var copy = storage
        var host = [CChar](repeating: 0, count: 64)
        var port = [CChar](repeating: 0, count: 16)
        let status = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &port, socklen_t(port.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return nil }
        return (String(cString: host), String(cString: port))
    }

    /// `host:port` of an accepted peer, for log lines.
    private static func describe(_ storage: sockaddr_storage) -> String {
        let length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        guard let (host, port) = numeric(storage, length: length) else { return "?" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A flag set once, read from any thread.
final class ManagedAtomicFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    var value: Bool { flag.load(ordering: .acquiring) }

    /// Sets it; returns whether it was set already.
    func testAndSet() -> Bool { flag.exchange(true, ordering: .acquiringAndReleasing) }
}
