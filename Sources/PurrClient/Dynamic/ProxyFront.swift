import Foundation
import NIOCore
import PurrCore

/// The local side of one dynamic tunnel connection, up to the target it names: SOCKS5 (RFC 1928, with
/// RFC 1929 username/password when the tunnel has credentials), SOCKS4/4a, or an HTTP proxy request
/// (`CONNECT host:port`, or a plain request in absolute form). Then, once the server answered, the one
/// reply the protocol sends. Bytes are parsed where they lie and consumed only once a message is whole.
struct ProxyFront {
    enum Kind: Equatable, Sendable {
        case socks5, socks4, http
    }

    typealias Credentials = ProxyCredentials

    struct Request: Equatable {
        var kind: Kind
        var target: DynamicTarget
        /// A plain HTTP request rewritten to origin form: the first bytes through the tunnel.
        var firstBytes: ByteBuffer?
        /// A plain request's body length (`Content-Length`, 0 without one): what may follow its head on
        /// this connection. nil: everything (a CONNECT, SOCKS, or a chunked body).
        var bodyLength: Int?
    }

    enum Action: Equatable {
        case needMore
        /// A reply that keeps the conversation going (SOCKS5's method and auth answers).
        case write(ByteBuffer)
        /// Write, then close; the reason is logged.
        case refuse(ByteBuffer?, reason: String)
        /// The target is known: dial it; what follows in the buffer is the app's first bytes.
        case connect(Request)
    }

    enum State: Equatable {
        case start
        case socks5Greeting
        case socks5Auth
        case socks5Request
        case socks4Request
        case httpHead
        case dialing(Kind, plain: Bool)
        case done
    }

    /// The most a request (an HTTP head, a SOCKS4 user id and name) may take.
    static let maxRequest = 16 * 1024

    let mode: TunnelMode
    let credentials: Credentials?
    private(set) var state = State.start
    /// Bytes of an HTTP head already searched for its end: a head that comes a byte at a time is
    /// searched once, not once per byte.
    private var headSearched = 0

    init(mode: TunnelMode, credentials: Credentials?) {
        self.mode = mode
        self.credentials = credentials
    }

    /// Parses what `buffer` holds; call again after `.write` (the next message may be there already).
    mutating func read(_ buffer: inout ByteBuffer) -> Action {
        switch state {
        case .start:
            if let action = start(buffer) { return action }
            return read(&buffer)
        case .socks5Greeting: return socks5Greeting(&buffer)
        case .socks5Auth: return socks5Auth(&buffer)
        case .socks5Request: return socks5Request(&buffer)
        case .socks4Request: return socks4Request(&buffer)
        case .httpHead: return httpHead(&buffer)
        case .dialing, .done: return .needMore
        }
    }

    /// The first byte picks the protocol; nil once picked (the message is read on).
    private mutating func start(_ buffer: ByteBuffer) -> Action? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMore }
        let kind: Kind
        switch first {
        case 5: kind = .socks5
        case 4: kind = .socks4
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): kind = .http
        default: return refuse(nil, "not a SOCKS or HTTP proxy request (first byte 0x\(String(first, radix: 16)))")
        }
        guard mode.serves(kind) else {
            let asked = kind == .http ? "an HTTP proxy request" : "SOCKS"
            let reply = kind == .http ? Self.httpError(400, "Bad Request", "this port speaks \(mode.rawValue), not HTTP") : nil
            return refuse(reply, "\(asked) on a \(mode.rawValue) tunnel")
        }
        switch kind {
        case .socks5: state = .socks5Greeting
        case .socks4: state = .socks4Request
        case .http: state = .httpHead
        }
        return nil
    }

    private mutating func refuse(_ reply: ByteBuffer?, _ reason: String) -> Action {
        state = .done
        return .refuse(reply, reason: reason)
    }

    // MARK: SOCKS5

    private mutating func socks5Greeting(_ buffer: inout ByteBuffer) -> Action {
        let start = buffer.readerIndex
        guard let count = buffer.getInteger(at: start + 1, as: UInt8.self) else { return .needMore }
        guard let methods = buffer.getBytes(at: start + 2, length: Int(count)) else { return .needMore }
        buffer.moveReaderIndex(forwardBy: 2 + Int(count))
        let wanted: UInt8 = credentials == nil ? 0x00 : 0x02
        guard methods.contains(wanted) else {
            let why = credentials == nil ? "no authentication" : "username/password authentication"
            return refuse(ByteBuffer(bytes: [5, 0xFF]), "SOCKS5 client does not offer \(why)")
        }
        state = wanted == 0 ? .socks5Request : .socks5Auth
        return .write(ByteBuffer(bytes: [5, wanted]))
    }

    private mutating func socks5Auth(_ buffer: inout ByteBuffer) -> Action {
        let start = buffer.readerIndex
        guard let version = buffer.getInteger(at: start, as: UInt8.self),
            let userLength = buffer.getInteger(at: start + 1, as: UInt8.self),
            let user = buffer.getString(at: start + 2, length: Int(userLength)),
            let passwordLength = buffer.getInteger(at: start + 2 + Int(userLength), as: UInt8.self),
            let password = buffer.getString(at: start + 3 + Int(userLength), length: Int(passwordLength))
        else {
            if let version = buffer.getInteger(at: start, as: UInt8.self), version != 1 {
                return refuse(ByteBuffer(bytes: [1, 1]), "SOCKS5 authentication version \(version) (expected 1)")
            }
            return .needMore
        }
        buffer.moveReaderIndex(forwardBy: 3 + Int(userLength) + Int(passwordLength))
        guard version == 1, let credentials else {
            return refuse(ByteBuffer(bytes: [1, 1]), "SOCKS5 authentication version \(version) (expected 1)")
        }
        // Both compared, always: which one was wrong is not told.
        let userMatches = ConstantTime.equals(user, credentials.user)
        let passwordMatches = ConstantTime.equals(password, credentials.password)
        guard userMatches && passwordMatches else {
            return refuse(ByteBuffer(bytes: [1, 1]), "wrong SOCKS5 username or password (user '\(user.printableLine)')")
        }
        state = .socks5Request
        return .write(ByteBuffer(bytes: [1, 0]))
    }

    private mutating func socks5Request(_ buffer: inout ByteBuffer) -> Action {
        let start = buffer.readerIndex
        guard let head = buffer.getBytes(at: start, length: 4) else { return .needMore }
        guard head[0] == 5 else { return refuse(Self.socks5Reply(0x01), "SOCKS5 request with version \(head[0])") }
        let host: String
        let length: Int
        switch head[3] {
        case 1:
            guard let bytes = buffer.getBytes(at: start + 4, length: 4) else { return .needMore }
            host = bytes.map(String.init).joined(separator: ".")
            length = 4 + 4 + 2
        case 4:
            guard let bytes = buffer.getBytes(at: start + 4, length: 16) else { return .needMore }
            host = TargetHost.ipv6(bytes).description
            length = 4 + 16 + 2
        case 3:
            guard let count = buffer.getInteger(at: start + 4, as: UInt8.self),
                let name = buffer.getBytes(at: start + 5, length: Int(count))
            else { return .needMore }
            host = String(decoding: name, as: UTF8.self)
            length = 4 + 1 + Int(count) + 2
        default:
            return refuse(Self.socks5Reply(0x08), "SOCKS5 address type \(head[3]) not supported")
        }
        guard let port = buffer.getInteger(at: start + length - 2, as: UInt16.self) else { return .needMore }
        buffer.moveReaderIndex(forwardBy: length)
        guard head[1] == 1 else {
            let name = head[1] == 2 ? "BIND" : head[1] == 3 ? "UDP ASSOCIATE" : "command \(head[1])"
            return refuse(Self.socks5Reply(0x07), "SOCKS5 \(name) to \(host.printableLine):\(port) not supported (CONNECT only)")
        }
        guard let target = DynamicTarget(host: host, port: Int(port)) else {
            return refuse(Self.socks5Reply(0x01), "SOCKS5 CONNECT to '\(host.printableLine)':\(port) is not a target")
        }
        state = .dialing(.socks5, plain: false)
        return .connect(Request(kind: .socks5, target: target))
    }

    /// A SOCKS5 reply: the code, and the bound address (zeros when there is none to tell).
    static func socks5Reply(_ code: UInt8, bound: SocketAddress? = nil) -> ByteBuffer {
        var out = ByteBuffer(bytes: [5, code, 0])
        switch bound {
        case .v6(let address):
            out.writeInteger(UInt8(4))
            withUnsafeBytes(of: address.address.sin6_addr) { out.writeBytes($0) }
        case .v4(let address):
            out.writeInteger(UInt8(1))
            withUnsafeBytes(of: address.address.sin_addr) { out.writeBytes($0) }
        default:
            out.writeBytes([1, 0, 0, 0, 0])
        }
        out.writeInteger(UInt16(bound?.port ?? 0))
        return out
    }

    // MARK: SOCKS4 and 4a

    private mutating func socks4Request(_ buffer: inout ByteBuffer) -> Action {
        let start = buffer.readerIndex
        let readable = buffer.readableBytesView
        guard readable.count >= 9 else { return .needMore }
        guard let userEnd = readable.dropFirst(8).firstIndex(of: 0) else {
            return readable.count > Self.maxRequest ? refuse(Self.socks4Reply(false), "SOCKS4 user id too long") : .needMore
        }
        let command = readable[readable.startIndex + 1]
        let port = Int(buffer.getInteger(at: start + 2, as: UInt16.self) ?? 0)
        let address = Array(readable[(readable.startIndex + 4)..<(readable.startIndex + 8)])
        var host = address.map(String.init).joined(separator: ".")
        var end = userEnd + 1
        // SOCKS4a: 0.0.0.x (x not 0) means a name follows the user id.
        if address[0] == 0 && address[1] == 0 && address[2] == 0 && address[3] != 0 {
            guard let nameEnd = readable[(userEnd + 1)...].firstIndex(of: 0) else {
                return readable.count > Self.maxRequest ? refuse(Self.socks4Reply(false), "SOCKS4a name too long") : .needMore
            }
            host = String(decoding: readable[(userEnd + 1)..<nameEnd], as: UTF8.self)
            end = nameEnd + 1
        }
        buffer.moveReaderIndex(forwardBy: end - readable.startIndex)
        guard credentials == nil else {
            return refuse(
                Self.socks4Reply(false), "SOCKS4 to \(host.printableLine):\(port) refused: this tunnel needs SOCKS5 with a password")
        }
        guard command == 1 else {
            return refuse(
                Self.socks4Reply(false), "SOCKS4 command \(command) to \(host.printableLine):\(port) not supported (CONNECT only)")
        }
        guard let target = DynamicTarget(host: host, port: port) else {
            return refuse(Self.socks4Reply(false), "SOCKS4 CONNECT to '\(host.printableLine)':\(port) is not a target")
        }
        state = .dialing(.socks4, plain: false)
        return .connect(Request(kind: .socks4, target: target))
    }

    static func socks4Reply(_ granted: Bool) -> ByteBuffer {
        ByteBuffer(bytes: [0, granted ? 0x5A : 0x5B, 0, 0, 0, 0, 0, 0])
    }

    // MARK: HTTP proxy

    private mutating func httpHead(_ buffer: inout ByteBuffer) -> Action {
        let readable = buffer.readableBytesView
        let searchedBefore = headSearched
        let found = Self.headEnd(readable, from: readable.startIndex + max(0, searchedBefore - 3))
        headSearched = readable.count
        // Over the limit whether or not its end came in the same read.
        guard let end = found, end + 4 - readable.startIndex <= Self.maxRequest else {
            if found != nil || readable.count > Self.maxRequest {
                return refuse(
                    Self.httpError(431, "Request Header Fields Too Large", "request head over 16 KiB"), "HTTP proxy request head too large")
            }
            // A head with bare LF line ends never ends for us: say so now rather than at the timeout.
            if Self.hasBareLF(readable, from: readable.startIndex + max(0, searchedBefore - 1)) {
                return refuse(Self.httpError(400, "Bad Request", "lines must end with CR LF"), "HTTP proxy request with bare LF line ends")
            }
            return .needMore
        }
        let headText = String(decoding: readable[readable.startIndex..<end], as: UTF8.self)
        buffer.moveReaderIndex(forwardBy: end + 4 - readable.startIndex)
        var lines = headText.components(separatedBy: "\r\n")
        // No bare CR or LF, no control byte but a tab, no folded line (RFC 9112 2.2, 5.2): what a proxy
        // passes on must be read the same way by every server behind it.
        if lines.enumerated().contains(where: { Self.isUnsafe(line: $0.element, first: $0.offset == 0) }) {
            return refuse(
                Self.httpError(400, "Bad Request", "a bare CR or LF, a control character or a folded line in the head"),
                "HTTP proxy request with a bare CR/LF, a control character or a folded line")
        }
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return refuse(
                Self.httpError(400, "Bad Request", "expected METHOD TARGET HTTP/1.1"),
                "bad HTTP proxy request line '\(TargetRedaction.redacting(requestLine, refused: true).printableLine)'")
        }
        let (method, uri, version) = (String(parts[0]), String(parts[1]), String(parts[2]))
        // The URL as every line here shows it: credentials and query values hidden, one printable line.
        let shown = TargetRedaction.redacting(uri, refused: true).printableLine
        if let credentials, !Self.authorizes(lines, credentials) {
            var reply = ByteBuffer(string: "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"purr\"\r\n")
            reply.writeString("Content-Length: 0\r\nConnection: close\r\n\r\n")
            return refuse(reply, "HTTP proxy request for '\(shown)' without the right Proxy-Authorization")
        }
        // CONNECT's authority form (`host:port`) is not a URL.
        if method == "CONNECT" {
            guard let target = DynamicTarget(authority: Substring(uri)) else {
                return refuse(Self.httpError(400, "Bad Request", "CONNECT needs host:port"), "HTTP CONNECT to '\(shown)': not host:port")
            }
            state = .dialing(.http, plain: false)
            return .connect(Request(kind: .http, target: target))
        }
        let url: ProxyRequestURL
        do {
            url = try ProxyRequestURL(parsing: uri)
        } catch {
            return refuse(
                Self.httpError(400, "Bad Request", "\(error.message): '\(shown)'"), "HTTP proxy request for '\(shown)': \(error.message)")
        }
        let target = url.target
        // Origin form, the hop-by-hop proxy fields gone, and one request per tunnel: the next request
        // on this connection may name another host.
        // The Host is the absolute URL's (RFC 9112 3.2.2), whatever the client wrote.
        var head = "\(method) \(url.originForm) \(version)\r\nHost: \(url.hostField)\r\n"
        var lengths: Set<String> = []
        var codings: [String] = []
        for line in lines {
            let name = line.prefix { $0 != ":" }.lowercased()
            let value = String(line.drop { $0 != ":" }.dropFirst()).trimmingASCIIWhitespace()
            guard line.contains(":"), HeadValidation.isFieldName(name) else {
                return refuse(
                    Self.httpError(400, "Bad Request", "a header line that is not name: value"),
                    "HTTP proxy request for '\(shown)': a header line that is not name: value")
            }
            if ["proxy-connection", "proxy-authorization", "connection", "keep-alive", "host"].contains(name) { continue }
            if name == "content-length" { lengths.insert(value) }
            if name == "transfer-encoding" { codings += value.lowercased().split(separator: ",").map { $0.trimmingASCIIWhitespace() } }
            head += line + "\r\n"
        }
        // Two ways to say where the body ends, or a coding that does not end in chunked: servers behind us
        // could each read it differently (request smuggling); refused rather than passed on (RFC 9112 6.1).
        let chunked = !codings.isEmpty
        guard !chunked || (lengths.isEmpty && codings.last == "chunked") else {
            return refuse(
                Self.httpError(400, "Bad Request", "Transfer-Encoding must end in chunked and come without Content-Length"),
                "HTTP proxy request for '\(shown)': ambiguous body (Transfer-Encoding)")
        }
        // The body's end is where this connection's one request ends: a second request pipelined behind
        // it must not reach this target (it may name another host, with that host's cookies).
        let length = lengths.count == 1 ? lengths.first.flatMap { Int($0) } : lengths.isEmpty ? 0 : nil
        guard chunked || (length.map { $0 >= 0 } ?? false) else {
            return refuse(
                Self.httpError(400, "Bad Request", "Content-Length is not one number"),
                "HTTP proxy request for '\(shown)': bad Content-Length")
        }
        head += "Connection: close\r\n\r\n"
        state = .dialing(.http, plain: true)
        return .connect(Request(kind: .http, target: target, firstBytes: ByteBuffer(string: head), bodyLength: chunked ? nil : length))
    }

    /// A head line a proxy must not pass on: a bare CR or LF, a control byte other than a tab, or (after
    /// the request line) a folded continuation, which starts with a space or a tab.
    static func isUnsafe(line: String, first: Bool) -> Bool {
        if !first, let lead = line.utf8.first, lead == 0x20 || lead == 0x09 { return true }
        return line.utf8.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }
    }

    /// Whether the head has an LF without its CR (from `start`, each byte looked at once per head): such a
    /// head would never end for us.
    static func hasBareLF(_ bytes: ByteBufferView, from start: Int) -> Bool {
        var index = max(start, bytes.startIndex)
        while index < bytes.endIndex {
            if bytes[index] == 10, index == bytes.startIndex || bytes[index - 1] != 13 { return true }
            index += 1
        }
        return false
    }

    /// Where the head ends (the index of its blank line's `\r\n\r\n`), searching from `start`.
    static func headEnd(_ bytes: ByteBufferView, from start: Int? = nil) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var index = max(bytes.startIndex, start ?? bytes.startIndex)
        while index + 3 < bytes.endIndex {
            if bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 { return index }
            index += 1
        }
        return nil
    }

    static func authorizes(_ lines: [String], _ credentials: Credentials) -> Bool {
        let expected = Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()
        for line in lines where line.prefix(20).lowercased() == "proxy-authorization:" {
            let value = line.dropFirst(20).trimmingASCIIWhitespace()
            guard value.prefix(6).lowercased() == "basic " else { return false }
            return ConstantTime.equals(String(value.dropFirst(6)).trimmingASCIIWhitespace(), expected)
        }
        return false
    }

    static func httpError(_ code: Int, _ phrase: String, _ message: String) -> ByteBuffer {
        ByteBuffer(string: UpgradeResponse.error(status: code, reason: phrase, message: message))
    }

    // MARK: The answer

    /// The reply once the server answered (nil: none, a plain HTTP request's answer comes from the target).
    mutating func answered(_ outcome: DialOutcome, bound: SocketAddress?) -> ByteBuffer? {
        guard case .dialing(let kind, let plain) = state else { return nil }
        state = .done
        switch kind {
        case .socks5:
            return Self.socks5Reply(outcome.socks5Reply, bound: outcome == .connected ? bound : nil)
        case .socks4:
            return Self.socks4Reply(outcome == .connected)
        case .http:
            let (code, phrase) = outcome.httpStatus
            guard let reason = outcome.reason else {
                return plain ? nil : ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n")
            }
            return Self.httpError(code, phrase, reason)
        }
    }
}
