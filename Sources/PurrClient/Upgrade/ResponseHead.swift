import NIOCore
import NIOHTTP1
import PurrCore

/// One HTTP/1 answer head read from raw bytes: a proxy's answer to CONNECT or the server's answer to the
/// upgrade request. Read by hand, not by NIOHTTP1's decoder: an answer's head ends the HTTP exchange
/// (after a proxy's 2xx or a 101 the bytes are the tunnel's), and the decoder parses on past it (after
/// tinyproxy's `HTTP/1.0` 200 it takes every further byte as an error).
struct ResponseHead: Equatable {
    var version: HTTPVersion
    var code: Int
    /// The reason phrase, printable (may be empty).
    var reason: String
    var headers: HTTPHeaders
    /// The status line as received, printable, for error lines.
    var statusLine: String

    /// Why a head is not an HTTP/1 answer.
    enum ParseError: Error, Equatable {
        /// No `HTTP/1.0` or `HTTP/1.1` status line with a three-digit code: that line, printable.
        case notHTTP(String)
        /// A header line that is not `name: value`: that line, printable.
        case badHeader(String)
    }

    /// `lines`: the head's lines (from `take(from:)`), the status line first. `strict`: a header line
    /// that is not `name: value` is an error (the server's answer) instead of ignored (a proxy's).
    init(lines: [String], strict: Bool) throws(ParseError) {
        let statusLine = lines.first ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        // Byte checks, not Character ones: a Character's properties are Unicode table lookups, and this runs
        // for every connection.
        guard parts.count >= 2, parts[0] == "HTTP/1.0" || parts[0] == "HTTP/1.1", parts[1].utf8.count == 3,
            parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let code = Int(parts[1]), code >= 100
        else { throw .notHTTP(statusLine.printableLine) }
        self.version = parts[0] == "HTTP/1.0" ? .http1_0 : .http1_1
        self.code = code
        self.reason = parts.count > 2 ? String(parts[2]).trimmingASCIIWhitespace().printableLine : ""
        self.statusLine = statusLine.printableLine
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            // A name of visible ASCII (no space, no control); no control in the line but a tab.
            guard let colon = line.utf8.firstIndex(of: UInt8(ascii: ":")), colon != line.utf8.startIndex,
                line.utf8[..<colon].allSatisfy({ (0x21...0x7E).contains($0) }),
                !line.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F })
            else {
                if strict { throw .badHeader(line.printableLine) }
                continue
            }
            let value = line[line.index(after: colon)...].trimmingASCIIWhitespace()
            headers.add(name: String(line[..<colon]), value: value)
        }
        self.headers = headers
    }

    /// The status and reason as one printable line ("407 Proxy Authentication Required", "503").
    var status: String { reason.isEmpty ? String(code) : "\(code) \(reason)" }

    /// A 1xx other than 101: another head follows.
    var isInformational: Bool { (100..<200).contains(code) && code != 101 }

    /// NIOHTTP1's form, for the checks written against it.
    var httpHead: HTTPResponseHead {
        HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: code, reasonPhrase: reason), headers: headers)
    }

    /// Every value of `name` (case-insensitive), in order.
    func values(_ name: String) -> [String] { headers[name] }

    /// The connection stays open after this answer: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only
    /// with `Connection: keep-alive` (RFC 9112 9.3).
    var keepsConnection: Bool {
        let tokens = headers[canonicalForm: "connection"].map { $0.lowercased() }
        if tokens.contains("close") { return false }
        return version == .http1_1 || tokens.contains("keep-alive")
    }

    /// How this answer's body ends (RFC 9112 6.3; an answer to GET or CONNECT, not to HEAD).
    var bodyFraming: BodyReader.Framing {
        if isInformational || code == 204 || code == 304 { return .none }
        if let coding = headers[canonicalForm: "transfer-encoding"].last {
            return coding.lowercased() == "chunked" ? .chunked : .untilClose
        }
        let lengths = headers["content-length"]
        if let first = lengths.first {
            guard lengths.allSatisfy({ $0 == first }), first.allSatisfy({ $0.isASCII && $0.isNumber }), first.count <= 18,
                let length = Int(first)
            else { return .untilClose }
            return .length(length)
        }
        return .untilClose
    }

    /// One head's lines (CR LF or bare LF ended, up to the empty line; empty lines before it skipped)
    /// taken from the front of `buffer`; nil while it is incomplete.
    static func take(from buffer: inout ByteBuffer) -> [String]? {
        let consumed = buffer.withUnsafeReadableBytes { bytes -> (count: Int, lines: [String])? in
            var lines: [String] = []
            var start = 0
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") {
                    var lineEnd = index
                    if lineEnd > start, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                    let line = String(decoding: bytes[start..<lineEnd], as: UTF8.self)
                    start = index + 1
                    if line.isEmpty, !lines.isEmpty { return (start, lines) }
                    if !line.isEmpty { lines.append(line) }
                }
                index += 1
            }
            return nil
        }
        guard let consumed else { return nil }
        buffer.moveReaderIndex(forwardBy: consumed.count)
        return consumed.lines
    }
}
