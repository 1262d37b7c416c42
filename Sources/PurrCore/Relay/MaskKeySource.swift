import NIOWebSocket

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A client's masking keys (RFC 6455 5.3: from a strong source of entropy), read from the kernel 64 at
/// a time: `WebSocketMaskingKey.random()` makes a system call for every frame, which shows on small
/// round trips.
struct MaskKeySource {
    private var bytes = [UInt8](repeating: 0, count: 256)
    private var next = 256

    mutating func key() -> WebSocketMaskingKey {
        if next + 4 > bytes.count {
            refill()
            next = 0
        }
        defer { next += 4 }
        return WebSocketMaskingKey(bytes[next..<next + 4])!
    }

    private mutating func refill() {
        var generator = SystemRandomNumberGenerator()
        bytes.withUnsafeMutableBytes { raw in
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
