import Foundation

/// Native Messaging framing: a 4-byte little-endian length, then that many bytes of UTF-8 JSON.
public enum NativeMessageFramer {
    /// The largest message we accept (browsers send at most 4 GiB; nothing we do needs more than this).
    public static let maxMessageSize = 1 << 20

    public enum ReadResult: Equatable, Sendable {
        case message([UInt8])
        /// Clean end of input at a frame boundary.
        case end
        /// Input ended inside a frame.
        case truncated(expected: Int, got: Int)
        /// The length was read, the body was not: `skip` it to reach the next frame.
        case tooLong(Int)
    }

    /// The most a skip reads at once: an oversized frame costs this much memory, not its length.
    public static let skipChunk = 64 << 10

    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length & 0xff), UInt8((length >> 8) & 0xff), UInt8((length >> 16) & 0xff), UInt8(length >> 24)] + payload
    }

    /// Reads one frame with a blocking `read(count)` function that returns fewer bytes only at EOF.
    public static func readFrame(_ read: (Int) -> [UInt8]) -> ReadResult {
        let header = read(4)
        if header.isEmpty { return .end }
        if header.count < 4 { return .truncated(expected: 4, got: header.count) }
        let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        if length > maxMessageSize { return .tooLong(length) }
        let body = read(length)
        if body.count < length { return .truncated(expected: length, got: body.count) }
        return .message(body)
    }

    /// Reads and drops `count` bytes (an oversized frame's body) in chunks; returns how many there were
    /// (fewer only at EOF).
    public static func skip(_ count: Int, _ read: (Int) -> [UInt8]) -> Int {
        var skipped = 0
        while skipped < count {
            let chunk = read(min(skipChunk, count - skipped))
            if chunk.isEmpty { break }
            skipped += chunk.count
        }
        return skipped
    }
}
