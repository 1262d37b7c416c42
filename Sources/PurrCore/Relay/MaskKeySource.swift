import NIOWebSocket

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A client's masking keys (RFC 6455 5.3: from a strong source of entropy), read from the kernel 4 KiB
/// at a time, 512 keys per read: `WebSocketMaskingKey.random()` makes a system call for every frame,
/// which shows on small round trips, and so did opening the source every 64 frames.
struct MaskKeySource: RandomNumberGenerator {
    private static let poolSize = 512
    private var pool = [UInt64](repeating: 0, count: MaskKeySource.poolSize)
    private var index = MaskKeySource.poolSize

    /// Each key takes one word of the pool (NIO's inlinable `random(using:)` builds it without a copy).
    mutating func key() -> WebSocketMaskingKey {
        .random(using: &self)
    }

    mutating func next() -> UInt64 {
        if index == pool.count {
            refill()
            index = 0
        }
        defer { index += 1 }
        return pool[index]
    }

    private mutating func refill() {
        var generator = SystemRandomNumberGenerator()
        pool.withUnsafeMutableBytes { raw in
            // One read for the whole pool, from the kernel's generator (the source SystemRandomNumberGenerator reads).
            let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                if read(fd, raw.baseAddress, raw.count) == raw.count { return }
            }
            for offset in stride(from: 0, to: raw.count, by: 8) {
                raw.storeBytes(of: generator.next(), toByteOffset: offset, as: UInt64.self)
            }
        }
    }
}
