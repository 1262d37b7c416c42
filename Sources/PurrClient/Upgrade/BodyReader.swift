import NIOCore

/// Reads one answer's body from raw bytes, bounded: a proxy's 407 body (dropped, so a new CONNECT can go
/// on the same connection) or a server's refusal (its first bytes kept for the error line).
struct BodyReader: Equatable {
    /// How the body ends.
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        /// At the end of input (HTTP/1.0, or no length given).
        case untilClose
    }

    /// The body (its framing included) grew past `limit`.
    struct TooLarge: Error, Equatable {}

    /// A chunked body's framing is broken.
    struct BadChunk: Error, Equatable {}

    private enum Chunk: Equatable {
        /// Reading a size line (`line`: its bytes so far, extensions included).
        case size(line: [UInt8])
        /// `left` bytes of chunk data to go.
        case data(left: Int)
        /// The CR LF behind a chunk's data (`seenCR`: the CR came).
        case dataEnd(seenCR: Bool)
        /// Trailer lines after the last chunk (`lineLength`: bytes of the current line).
        case trailer(lineLength: Int)
        case done
    }

    let framing: Framing
    /// Bytes of the body kept (the rest is read and dropped).
    let keep: Int
    /// The most read (framing included) before the body is `TooLarge`.
    let limit: Int
    private(set) var kept = ByteBuffer()
    private var read = 0
    private var remaining: Int
    private var chunk = Chunk.size(line: [])
    /// The end of input came (`untilClose` ends there; the others end early).
    private var inputClosed = false

    init(framing: Framing, keep: Int, limit: Int) {
        self.framing = framing
        self.keep = keep
        self.limit = limit
        if case .length(let length) = framing { remaining = length } else { remaining = 0 }
    }

    /// The whole body has been read.
    var isComplete: Bool {
        switch framing {
        case .none: return true
        case .length: return remaining == 0
        case .chunked: return chunk == .done
        case .untilClose: return inputClosed
        }
    }

    /// As much as is kept has been read.
    var isFull: Bool { kept.readableBytes >= keep }

    /// The end of input: an `untilClose` body is complete; others stay as they are (cut short).
    mutating func endOfInput() {
        inputClosed = true
    }

    /// Takes from `buffer` what belongs to the body, and no more.
    mutating func consume(_ buffer: inout ByteBuffer) throws {
        switch framing {
        case .none:
            return
        case .length:
            let count = min(remaining, buffer.readableBytes)
            try take(count, from: &buffer)
            remaining -= count
        case .untilClose:
            try take(buffer.readableBytes, from: &buffer)
        case .chunked:
            try consumeChunked(&buffer)
        }
    }

    private mutating func take(_ count: Int, from buffer: inout ByteBuffer) throws {
        guard count > 0, var slice = buffer.readSlice(length: count) else { return }
        read += count
        if read > limit { throw TooLarge() }
        let room = keep - kept.readableBytes
        if room > 0, let part = slice.readSlice(length: min(room, slice.readableBytes)) {
            kept.writeImmutableBuffer(part)
        }
    }

    private mutating func consumeChunked(_ buffer: inout ByteBuffer) throws {
        while buffer.readableBytes > 0, chunk != .done {
            if case .data(let left) = chunk {
                let count = min(left, buffer.readableBytes)
                try take(count, from: &buffer)
                chunk = left == count ? .dataEnd(seenCR: false) : .data(left: left - count)
                continue
            }
            guard let byte = buffer.readInteger(as: UInt8.self) else { return }
            read += 1
            if read > limit { throw TooLarge() }
            switch chunk {
            case .size(var line):
                guard byte == UInt8(ascii: "\n") else {
                    line.append(byte)
                    guard line.count <= 1024 else { throw BadChunk() }
                    chunk = .size(line: line)
                    continue
                }
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                let digits = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
                guard !digits.isEmpty, digits.count <= 15, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    throw BadChunk()
                }
                chunk = size == 0 ? .trailer(lineLength: 0) : .data(left: size)
            case .dataEnd(let seenCR):
                if byte == UInt8(ascii: "\r"), !seenCR {
                    chunk = .dataEnd(seenCR: true)
                } else if byte == UInt8(ascii: "\n") {
                    chunk = .size(line: [])
                } else {
                    throw BadChunk()
                }
            case .trailer(let length):
                if byte == UInt8(ascii: "\n") {
                    chunk = length == 0 ? .done : .trailer(lineLength: 0)
                } else if byte != UInt8(ascii: "\r") || length > 0 {
                    chunk = .trailer(lineLength: length + 1)
                }
            case .data, .done:
                return
            }
        }
    }
}
