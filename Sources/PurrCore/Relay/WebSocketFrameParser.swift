import NIOCore
import NIOWebSocket

/// Reads RFC 6455 frames from a byte stream as it arrives: a data frame's payload comes out in pieces,
/// unmasked, as soon as its bytes are read, never gathered into a whole frame first; only a header
/// (at most 14 bytes) and a control frame's payload (at most 125) are held between reads.
///
/// It checks what belongs to framing (control frames are whole and short, lengths within `maxFrame`);
/// what a frame may be in its place (masking, opcodes, message order) is the bridge's to judge.
public struct WebSocketFrameParser {
    /// A frame's header.
    public struct Head: Equatable, Sendable {
        public var fin: Bool
        /// RSV1-3 as the low three bits.
        public var reserved: UInt8
        public var opcode: WebSocketOpcode
        public var maskKey: WebSocketMaskingKey?
        public var length: Int

        public var isControl: Bool { opcode.isControlOpcode }
    }

    public enum Event: Equatable {
        /// A frame begins: its data payload follows as `payload` pieces (none when empty).
        case head(Head)
        /// The next piece of a data frame's payload, unmasked.
        case payload(ByteBuffer)
        /// A whole control frame with its payload unmasked (after its `head`).
        case control(Head, ByteBuffer)
    }

    private enum State {
        /// Header bytes so far (the array keeps its capacity from frame to frame).
        case header
        case data(key: WebSocketMaskingKey?, remaining: Int, phase: Int)
        case control(Head, ByteBuffer)
    }

    public let maxFrame: Int
    private var state = State.header
    private var headerBytes: [UInt8] = []

    public init(maxFrame: Int) {
        self.maxFrame = maxFrame
        headerBytes.reserveCapacity(WebSocketFrameWriter.maxHeaderSize)
    }

    /// The next event from `buffer` (consuming what it reads), or nil when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) throws(NIOWebSocketError) -> Event? {
        switch state {
        case .header:
            return try readHeader(from: &buffer)
        case .data(let key, let remaining, let phase):
            let count = min(remaining, buffer.readableBytes)
            guard count > 0 else { return nil }
            let piece = buffer.readSlice(length: count)!
            state = remaining == count ? .header : .data(key: key, remaining: remaining - count, phase: (phase + count) & 3)
            return .payload(key.map { WebSocketMasking.unmasked(piece, key: $0, phase: phase) } ?? piece)
        case .control(let head, var collected):
            let count = min(head.length - collected.readableBytes, buffer.readableBytes)
            var piece = buffer.readSlice(length: count)!
            collected.writeBuffer(&piece)
            guard collected.readableBytes == head.length else {
                state = .control(head, collected)
                return nil
            }
            state = .header
            return .control(head, head.maskKey.map { WebSocketMasking.unmasked(collected, key: $0) } ?? collected)
        }
    }

    /// The header size `bytes` (at least two) announce.
    private static func headerSize(_ bytes: [UInt8]) -> Int {
        let extra = [0, 2, 8][bytes[1] & 0x7F == 126 ? 1 : bytes[1] & 0x7F == 127 ? 2 : 0]
        return 2 + extra + (bytes[1] & 0x80 != 0 ? 4 : 0)
    }

    private mutating func readHeader(from buffer: inout ByteBuffer) throws(NIOWebSocketError) -> Event? {
        // The usual case, a whole header in this read: taken without the byte-by-byte gathering below.
        if headerBytes.isEmpty, buffer.readableBytes >= 2, let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) {
            let size = Self.headerSize([0, second])
            if buffer.readableBytes >= size {
                headerBytes.append(contentsOf: buffer.readBytes(length: size)!)
            }
        }
        while buffer.readableBytes > 0 && (headerBytes.count < 2 || headerBytes.count < Self.headerSize(headerBytes)) {
            headerBytes.append(buffer.readInteger(as: UInt8.self)!)
        }
        guard headerBytes.count >= 2 else { return nil }
        let bytes = headerBytes
        let isControl = bytes[0] & 0x08 != 0
        var length = Int(bytes[1] & 0x7F)
        var at = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            at = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            var wide: UInt64 = 0
            for byte in bytes[2..<10] { wide = wide << 8 | UInt64(byte) }
            // The top bit must be zero (RFC 6455 5.2); anything past our limit is refused anyway.
            guard wide <= UInt64(maxFrame) else { throw .invalidFrameLength }
            length = Int(wide)
            at = 10
        }
        // Judged once the length is known, before the key, in the order NIO's decoder judges.
        guard length <= maxFrame else { throw .invalidFrameLength }
        if isControl {
            guard bytes[0] & 0x80 != 0 else { throw .fragmentedControlFrame }
            guard length <= 125 else { throw .multiByteControlFrameLength }
        }
        guard bytes.count == Self.headerSize(bytes) else { return nil }
        headerBytes.removeAll(keepingCapacity: true)
        // Every opcode has a value; which are allowed is the bridge's call.
        let opcode = WebSocketOpcode(encodedWebSocketOpcode: bytes[0] & 0x0F)!
        let key = bytes[1] & 0x80 != 0 ? WebSocketMaskingKey(Array(bytes[at..<at + 4])) : nil
        let head = Head(fin: bytes[0] & 0x80 != 0, reserved: (bytes[0] >> 4) & 0x07, opcode: opcode, maskKey: key, length: length)
        if isControl {
            state = .control(head, ByteBuffer())
        } else {
            state = length > 0 ? .data(key: key, remaining: length, phase: 0) : .header
        }
        return .head(head)
    }
}
