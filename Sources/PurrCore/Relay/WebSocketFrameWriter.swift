import NIOCore
import NIOWebSocket

/// Writes RFC 6455 frames as NIOWebSocket's `WebSocketFrameEncoder` does, byte for byte (tested against
/// it), without its per-frame copy: a client's payload is masked in the same pass that copies it behind
/// the header; a server's payload is sent as it is, behind a separate header.
public enum WebSocketFrameWriter {
    /// The most a header takes: 2 bytes, an 8-byte length, a 4-byte key.
    public static let maxHeaderSize = 14

    /// Writes the header of a frame of `length` payload bytes.
    public static func writeHeader(
        opcode: WebSocketOpcode, fin: Bool = true, length: Int, maskKey: WebSocketMaskingKey?, into buffer: inout ByteBuffer
    ) {
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        buffer.writeInteger((fin ? 0x80 : 0) | UInt8(webSocketOpcode: opcode))
        switch length {
        case 0...125:
            buffer.writeInteger(maskBit | UInt8(length))
        case 126...0xFFFF:
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(length))
        }
        if let maskKey { buffer.writeBytes(maskKey) }
    }

    /// A whole frame in one buffer: header, then the payload (masked when `maskKey` is set).
    public static func frame(
        opcode: WebSocketOpcode, fin: Bool = true, payload: ByteBuffer, maskKey: WebSocketMaskingKey?, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = FrameBufferCache.take(capacity: maxHeaderSize + payload.readableBytes, allocator: allocator)
        writeHeader(opcode: opcode, fin: fin, length: payload.readableBytes, maskKey: maskKey, into: &buffer)
        if let maskKey {
            WebSocketMasking.append(payload, masked: maskKey, to: &buffer)
        } else {
            var payload = payload
            buffer.writeBuffer(&payload)
        }
        FrameBufferCache.keep(buffer)
        return buffer
    }
}
