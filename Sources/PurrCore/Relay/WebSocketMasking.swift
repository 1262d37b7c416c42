import NIOCore
import NIOWebSocket

/// Unmasking a client's payload eight bytes at a time: NIOWebSocket's `unmaskedData` goes byte by byte,
/// which costs more than the rest of the relay together on a bulk stream.
enum WebSocketMasking {
    /// The payload unmasked (a copy only when the buffer's storage is shared, as the decoder's is).
    static func unmasked(_ data: ByteBuffer, key: WebSocketMaskingKey) -> ByteBuffer {
        var data = data
        var pattern: UInt64 = 0
        withUnsafeMutableBytes(of: &pattern) { bytes in
            for index in 0..<8 { bytes[index] = key[index % 4] }
        }
        data.withUnsafeMutableReadableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var index = 0
            // The key repeats every 4 bytes, so a word of it lines up at every multiple of 8.
            while index + 8 <= bytes.count {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ pattern
                base.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < bytes.count {
                bytes[index] ^= key[index % 4]
                index += 1
            }
        }
        return data
    }
}
