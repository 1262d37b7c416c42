// The bench's relays are epoll(7) and splice(2): Linux only, like the rest of Purr (Package.swift).
#if canImport(Glibc)
    import Glibc
#else
    #error("purr-bench measures with epoll(7) and splice(2): it is built and run on Linux only")
#endif

/// epoll(7), accept4(2) and their constants: Swift's Glibc module leaves out <sys/epoll.h> and the
/// GNU calls, so they are looked up once, as `HopRelay` does for splice(2).
enum Epoll {
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
