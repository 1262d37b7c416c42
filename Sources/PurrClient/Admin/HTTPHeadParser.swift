import NIOCore
import PurrCore

/// Why a message head could not be parsed.
enum HTTPHeadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The head grew past the limit without ending.
    case tooLarge(limit: Int)
    /// The head is not HTTP/1.x; the string says what and where.
    case malformed(String)

    public var description: String {
        switch self {
        case .tooLarge(let limit): return "request head larger than \(limit) bytes"
        case .malformed(let why): return why
        }
    }
}

/// Accumulates bytes until a complete HTTP/1.x head arrives, then parses it.
/// Bytes after the blank line are kept: they belong to the tunnel.
struct HTTPHeadParser: Sendable {
    public enum Kind: Sendable { case request, response }

    public enum Result: Sendable {
        case needMore
        case complete(HTTPHead, remainder: ByteBuffer)
    }

    private var buffer: ByteBuffer
    private var scanned = 0
    private var startLineChecked = false
    public let kind: Kind
    public let limit: Int

    public init(kind: Kind, limit: Int = PurrWire.maxHeadSize) {
        self.kind = kind
        self.limit = limit
        self.buffer = ByteBufferAllocator().buffer(capacity: 512)
    }

    /// Bytes received so far and not yet parsed.
    public var bufferedBytes: Int { buffer.readableBytes }

    /// Appends bytes and tries to finish the head. Garbage (control bytes, a bad start line)
    /// fails as soon as it is seen, not when the head would have ended.
    public mutating func feed(_ bytes: inout ByteBuffer) throws(HTTPHeadError) -> Result {
        buffer.writeBuffer(&bytes)
        let from = max(0, scanned - 3)
        let scan: (end: Int?, control: Int?, firstLineEnd: Int?) = buffer.withUnsafeReadableBytes { raw in
            var firstLineEnd: Int? = nil
            var i = from
            while i < raw.count {
                let byte = raw[i]
                if byte < 32 && byte != 13 && byte != 10 && byte != 9 || byte == 127 { return (nil, i, nil) }
                if byte == 10, i > 0, raw[i - 1] == 13 {
                    if firstLineEnd == nil { firstLineEnd = i - 1 }
                    if i >= 3, raw[i - 2] == 10, raw[i - 3] == 13 { return (i + 1, nil, firstLineEnd) }
                }
                i += 1
            }
            return (nil, nil, firstLineEnd)
        }
        if let control = scan.control {
            throw .malformed(
                "control byte 0x\(String(buffer.getInteger(at: buffer.readerIndex + control, as: UInt8.self)!, radix: 16)) in head at offset \(control)"
            )
        }
        if !startLineChecked, let lineEnd = scan.firstLineEnd {
            startLineChecked = true
            let line = buffer.getSlice(at: buffer.readerIndex, length: lineEnd)!
            guard let text = String(validating: line.readableBytesView, as: UTF8.self) else {
                throw .malformed("start line is not UTF-8")
            }
            _ = try Self.parseStartLine(text, kind: kind)
        }
        guard let headEnd = scan.end else {
            scanned = buffer.readableBytes
            if buffer.readableBytes > limit { throw .tooLarge(limit: limit) }
            return .needMore
        }
        if headEnd > limit { throw .tooLarge(limit: limit) }
        let headBytes = buffer.readSlice(length: headEnd)!
        let head = try Self.parse(headBytes, kind: kind)
        let remainder = buffer.slice()
        buffer.clear()
        scanned = 0
        startLineChecked = false
        return .complete(head, remainder: remainder)
    }

    /// Parses a complete head (ending in CRLFCRLF).
    public static func parse(_ bytes: ByteBuffer, kind: Kind) throws(HTTPHeadError) -> HTTPHead {
        let raw = Array(bytes.readableBytesView)
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + 1 < raw.count {
            if raw[i] == 13 && raw[i + 1] == 10 {
                lines.append(raw[start..<i])
                start = i + 2
                i += 2
            } else {
                if raw[i] == 0 { throw .malformed("NUL byte in head at offset \(i)") }
                i += 1
            }
        }
        // The last two lines are the empty line pair that ended the head.
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let startBytes = lines.first, !startBytes.isEmpty else { throw .malformed("empty start line") }
        guard let startLine = String(validating: startBytes, as: UTF8.self) else {
            throw .malformed("start line is not UTF-8")
        }
        let (first, second, third) = try parseStartLine(startLine, kind: kind)
        var fields: [(name: String, value: String)] = []
        for (index, lineBytes) in lines.dropFirst().enumerated() {
            guard let line = String(validating: lineBytes, as: UTF8.self) else {
                throw .malformed("header line \(index + 1) is not UTF-8")
            }
            if line.first == " " || line.first == "\t" {
                throw .malformed("folded header line \(index + 1) is not allowed")
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw .malformed("header line \(index + 1) has no colon: \(Self.printable(line))")
            }
            let name = String(line[..<colon])
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
                throw .malformed("bad header name on line \(index + 1): \(Self.printable(name))")
            }
            let value = line[line.index(after: colon)...].trimmingASCIIWhitespace()
            fields.append((name, value))
        }
        return HTTPHead(first: first, second: second, third: third, fields: fields)
    }

    static func parseStartLine(_ startLine: String, kind: Kind) throws(HTTPHeadError) -> (String, String, String) {
        let parts = startLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        switch kind {
        case .request:
            guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
                parts[0].utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }),
                !parts[1].contains(" ")
            else { throw .malformed("bad request line: \(Self.printable(startLine))") }
            guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
                throw .malformed("unsupported HTTP version: \(Self.printable(parts[2]))")
            }
            return (parts[0], parts[1], parts[2])
        case .response:
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3,
                parts[1].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { throw .malformed("bad status line: \(Self.printable(startLine))") }
            return (parts[0], parts[1], parts.count > 2 ? parts[2] : "")
        }
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Keeps error lines to one short printable line.
    public static func printable(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "?" : Character($0) })
        return cleaned.count > 80 ? String(cleaned.prefix(80)) + "…" : cleaned
    }
}
