import NIOCore
import NIOWebSocket

/// RFC 6455 masking, sixteen bytes at a time. NIOWebSocket's `webSocketMask` goes byte by byte over a
/// copy of the payload, which cost more than the rest of the relay together on a bulk stream.
///
/// Masking and unmasking are the same XOR. `phase` is the payload offset of the first byte (a frame's
/// payload arrives in pieces), so piece after piece the key lines up as if masked in one go.
public enum WebSocketMasking {
    /// The key repeated into sixteen bytes, starting at `phase` (0-3).
    static func pattern(_ key: WebSocketMaskingKey, phase: Int) -> SIMD16<UInt8> {
        var pattern = SIMD16<UInt8>()
        for index in 0..<16 { pattern[index] = key[(index + phase) & 3] }
        return pattern
    }

    /// XORs `count` bytes from `source` into `destination` (which may be the same memory).
    static func apply(
        _ key: WebSocketMaskingKey, phase: Int, from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int
    ) {
        let wide = pattern(key, phase: phase)
        var index = 0
        // The key repeats every 4 bytes, so the same pattern lines up at every multiple of 16.
        while index + 64 <= count {
            for lane in stride(from: 0, to: 64, by: 16) {
                let word = source.loadUnaligned(fromByteOffset: index + lane, as: SIMD16<UInt8>.self) ^ wide
                destination.storeBytes(of: word, toByteOffset: index + lane, as: SIMD16<UInt8>.self)
            }
            index += 64
        }
        while index + 16 <= count {
            let word = source.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self) ^ wide
            destination.storeBytes(of: word, toByteOffset: index, as: SIMD16<UInt8>.self)
            index += 16
        }
        while index < count {
            let byte = source.load(fromByteOffset: index, as: UInt8.self) ^ wide[index & 15]
            destination.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            index += 1
        }
    }

    /// Appends `bytes` masked with `key` (from `phase`) to `output`: one pass, no copy beside it.
    public static func append(_ bytes: ByteBuffer, masked key: WebSocketMaskingKey, phase: Int = 0, to output: inout ByteBuffer) {
        let count = bytes.readableBytes
        guard count > 0 else { return }
        output.reserveCapacity(minimumWritableBytes: count)
        bytes.withUnsafeReadableBytes { source in
            output.withUnsafeMutableWritableBytes { destination in
                apply(key, phase: phase, from: source.baseAddress!, to: destination.baseAddress!, count: count)
            }
        }
        output.moveWriterIndex(forwardBy: count)
    }

    /// `bytes` unmasked: in place when its storage is ours alone, else as one masked copy.
    public static func unmasked(_ bytes: ByteBuffer, key: WebSocketMaskingKey, phase: Int = 0) -> ByteBuffer {
        var bytes = bytes
        let done: Void? = bytes.modifyIfUniquelyOwned { buffer in
            buffer.withUnsafeMutableReadableBytes { raw in
                guard let base = raw.baseAddress else { return }
                apply(key, phase: phase, from: base, to: base, count: raw.count)
            }
        }
        if done != nil { return bytes }
        var copy = FrameBufferCache.take(capacity: bytes.readableBytes, allocator: ByteBufferAllocator())
        append(bytes, masked: key, phase: phase, to: &copy)
        FrameBufferCache.keep(copy)
        return copy
    }
}
