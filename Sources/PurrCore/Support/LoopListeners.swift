import NIOCore
import NIOPosix

// Purr is built and tested on Linux only (Package.swift). The probe below uses glibc's socket API
// (SOCK_CLOEXEC in the type, Glibc.bind); a Darwin build stops here rather than inside a system header.
#if canImport(Glibc)
    import Glibc
#else
    #error("LoopListeners uses glibc's socket API: Purr is built and tested on Linux only")
#endif

/// One listening socket per event loop, sharing the address with `SO_REUSEPORT`: the kernel spreads new
/// connections over the sockets and each loop accepts and serves its own. With one listener for the
/// group, every accepted connection is handed to another loop's thread (an eventfd write and a wake-up
/// of that thread: two context switches per connection, the largest single cost of a new connection on
/// a busy 2-core machine, measured with `purr-bench connect rate`).
///
/// `SO_REUSEPORT` would also let a second server started on the same port share it silently instead of
/// failing with "address in use": before binding, a probe socket without the option is bound to the
/// address, and fails if anything listens there. Our own listeners make a later probe fail the same way.
public enum LoopListeners {
    /// Binds one listener per loop of `group` at host:port (port 0: the first listener's port for all).
    /// `makeBootstrap` gets the loop that accepts and serves; the bootstrap must use it for both, and
    /// sets up the accepted channels. What every Purr listener has is added here: the backlog, address
    /// reuse, the pause after a failed accept (`AcceptPauseHandler`), the TCP options accepted sockets
    /// inherit (`SocketTuning.applyToListener`), then `setUpListener`.
    public static func bind(
        group: any EventLoopGroup, host: String, port: Int,
        setUpListener: @escaping @Sendable (any Channel) throws -> Void = { _ in },
        makeBootstrap: (any EventLoop) -> ServerBootstrap
    ) async throws -> [any Channel] {
        func makeListener(_ loop: any EventLoop) -> ServerBootstrap {
            makeBootstrap(loop)
                .serverChannelOption(ChannelOptions.backlog, value: 1024)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    // Out of descriptors: pause, do not spin (issue 15).
                    AcceptPauseHandler.install(on: channel).flatMapThrowing {
                        try SocketTuning.applyToListener(channel)
                        try setUpListener(channel)
                    }
                }
        }
        let loops = Array(group.makeIterator())
        guard loops.count > 1 else {
            return [try await makeListener(loops.first ?? group.next()).bind(host: host, port: port).get()]
        }
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        if port != 0 { try probe(address) }
        var channels: [any Channel] = []
        var bound = address
        do {
            for loop in loops {
                let channel = try await makeListener(loop)
                    .serverChannelOption(ChannelOptions.socketOption(.init(rawValue: SO_REUSEPORT)), value: 1)
                    .bind(to: bound).get()
                channels.append(channel)
                if bound.port == 0, let actual = channel.localAddress { bound = actual }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return channels
    }

    /// Fails with `EADDRINUSE` (as the listener's own bind would without `SO_REUSEPORT`) when something
    /// listens on `address`. Bound, never listening: nothing can connect to it meanwhile.
    static func probe(_ address: SocketAddress) throws {
        let family = address.protocol.rawValue
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        defer { close(descriptor) }
        var one: CInt = 1
        // Like the listeners: a port with only TIME_WAIT connections left is free.
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        let result = address.withSockAddr { pointer, size in Glibc.bind(descriptor, pointer, socklen_t(size)) }
        guard result == 0 else { throw IOError(errnoCode: errno, reason: "bind") }
    }
}
