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
        case header
        case data(key: WebSocketMaskingKey?, remaining: Int, phase: Int)
        case control(Head, ByteBuffer)
    }

    public let maxFrame: Int
    private var state = State.header
    /// Header bytes gathered across reads, when a header arrives split (at most 14; kept from frame to frame).
    private var partial = ByteBuffer()

    public init(maxFrame: Int) {
        self.maxFrame = maxFrame
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

    /// A header judged: whole, or still missing bytes (a violation throws as soon as the bytes show it).
    private enum Judgement {
        case whole(Head, size: Int)
        case partial
    }

    private mutating func readHeader(from buffer: inout ByteBuffer) throws(NIOWebSocketError) -> Event? {
        // The usual case, a whole header in this read: judged where it lies, nothing copied or allocated.
        if partial.readableBytes == 0, case .whole(let head, let size) = try judge(buffer) {
            buffer.moveReaderIndex(forwardBy: size)
            return begin(head)
        }
        // Split across reads: gathered a byte at a time, judged after each.
        while let byte = buffer.readInteger(as: UInt8.self) {
            partial.writeInteger(byte)
            if case .whole(let head, _) = try judge(partial) {
                partial.clear()
                return begin(head)
            }
        }
        return nil
    }

    private mutating func begin(_ head: Head) -> Event {
        if head.isControl {
            state = .control(head, ByteBuffer())
        } else {
            state = head.length > 0 ? .data(key: head.maskKey, remaining: head.length, phase: 0) : .header
        }
        return .head(head)
    }

    /// The header at the front of `bytes`, judged in the order NIO's decoder judges: the length (before the
    /// key has arrived), then a control frame's rules.
    private func judge(_ bytes: ByteBuffer) throws(NIOWebSocketError) -> Judgement {
        let start = bytes.readerIndex
        guard let first = bytes.getInteger(at: start, as: UInt8.self), let second = bytes.getInteger(at: start + 1, as: UInt8.self)
        else { return .partial }
        let isControl = first & 0x08 != 0
        var length = Int(second & 0x7F)
        var at = 2
        if length == 126 {
            guard let short = bytes.getInteger(at: start + 2, as: UInt16.self) else { return .partial }
            length = Int(short)
            at = 4
        } else if length == 127 {
            guard let wide = bytes.getInteger(at: start + 2, as: UInt64.self) else { return .partial }
            // The top bit must be zero (RFC 6455 5.2); anything past our limit is refused anyway.
            guard wide <= UInt64(maxFrame) else { throw .invalidFrameLength }
            length = Int(wide)
            at = 10
        }
        guard length <= maxFrame else { throw .invalidFrameLength }
        if isControl {
            guard first & 0x80 != 0 else { throw .fragmentedControlFrame }
            guard length <= 125 else { throw .multiByteControlFrameLength }
        }
        var key: WebSocketMaskingKey?
        if second & 0x80 != 0 {
            guard let word = bytes.getInteger(at: start + at, as: UInt32.self) else { return .partial }
            key = WebSocketMaskingKey(word: word)
            at += 4
        }
        // Every opcode has a value; which are allowed is the bridge's call.
        let opcode = WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F)!
        return .whole(Head(fin: first & 0x80 != 0, reserved: (first >> 4) & 0x07, opcode: opcode, maskKey: key, length: length), size: at)
    }
}

extension WebSocketMaskingKey {
    /// A key from its four bytes in network order, without an array: NIO's inlinable `random(using:)` is the
    /// public way to its word initializer, here fed a "generator" that returns the word itself.
    init(word: UInt32) {
        struct Word: RandomNumberGenerator {
            let value: UInt64
            mutating func next() -> UInt64 { value }
        }
        var source = Word(value: UInt64(word))
        self = .random(using: &source)
    }
}
