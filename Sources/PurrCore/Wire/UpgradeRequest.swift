import NIOCore
import NIOHTTP1

/// A Purr upgrade request: what the client sends, and what the server checks.
public struct UpgradeRequest: Sendable, Equatable {
    public var path: String
    public var host: String
    public var upgrade: UpgradeProtocol
    public var version: String
    public var token: String?
    /// Extra headers (for auth proxies in front of the server), sent after the Purr ones.
    public var extraHeaders: [(name: String, value: String)]
    /// A real WebSocket (RFC 6455) handshake: the `Sec-WebSocket-Key`. Nil for the original protocol
    /// (and for the original client's `Upgrade: websocket` compatibility mode).
    public var webSocketKey: String?
    /// The subprotocols a WebSocket client offered (`Sec-WebSocket-Protocol`).
    public var webSocketProtocols: [String] = []

    /// Asks the server to say whether it keeps bytes sent behind the head (`Purr-Early-Data: 1`).
    public var offersEarlyData = false
    /// `Purr-Connection`: this connection's id, sent last, so the original client's bytes stay a prefix.
    public var connectionID: String?

    public init(
        path: String,
        host: String,
        upgrade: UpgradeProtocol = .purr,
        version: String = PurrWire.clientVersion,
        token: String? = nil,
        extraHeaders: [(name: String, value: String)] = []
    ) {
        self.path = path
        self.host = host
        self.upgrade = upgrade
        self.version = version
        self.token = token
        self.extraHeaders = extraHeaders
    }

    /// The header fields in the original Go client's order; a token and extra headers go last.
    public var fields: [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [
            (PurrWire.Header.host, host),
            ("User-Agent", PurrWire.userAgent),
            (PurrWire.Header.connection, "Upgrade"),
            (PurrWire.Header.purrRequest, PurrWire.requestMagic),
            (PurrWire.Header.purrVersion, version),
            (PurrWire.Header.upgrade, upgrade.rawValue),
            ("Accept-Encoding", "gzip"),
        ]
        if let token { fields.append((PurrWire.Header.authorization, "Bearer \(token)")) }
        if let webSocketKey {
            fields.append((WebSocketHandshake.Header.key, webSocketKey))
            fields.append((WebSocketHandshake.Header.version, WebSocketHandshake.version))
            fields.append((WebSocketHandshake.Header.protocols, WebSocketHandshake.binaryProtocol))
        }
        fields += extraHeaders
        if offersEarlyData { fields.append((PurrWire.Header.earlyData, "1")) }
        if let connectionID { fields.append((PurrWire.Header.purrConnection, connectionID)) }
        return fields
    }

    /// The head NIOHTTP1's encoder writes (byte for byte what `encoded()` spells out).
    public var head: HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: HTTPHeaders(fields))
    }

    /// Every value this request would send, checked: the last line of defence behind each source's own
    /// check (a flag, `tunnels.toml`, the native host). A bad token, header, host or path sends nothing.
    public func validate() throws(HeadValidation.Failure) {
        try HeadValidation.checkRequestTarget(path)
        try HeadValidation.checkHost(host)
        if let token, !HeadValidation.isToken68(token) { throw HeadValidation.notToken68.located("token") }
        for field in fields { try HeadValidation.checkField(name: field.name, value: field.value) }
    }

    /// The head, refused (thrown) when `validate()` fails.
    public func validatedHead() throws(HeadValidation.Failure) -> HTTPRequestHead {
        try validate()
        return head
    }

    /// The request bytes.
    public func encoded() -> String {
        "GET \(path) HTTP/1.1\r\n" + fields.map { "\($0.name): \($0.value)\r\n" }.joined() + "\r\n"
    }

    public static func == (lhs: UpgradeRequest, rhs: UpgradeRequest) -> Bool {
        lhs.encoded() == rhs.encoded()
    }
}

/// Why a request head is not a Purr upgrade request.
public enum UpgradeRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    case notGET(String)
    case missingHeader(String)
    case wrongHeader(String, String)
    case unsupportedVersion(String)
    /// Well-formed HTTP that a Purr upgrade may not be (the server answers 400).
    case malformed(String)

    /// Whether the server answers 400 (bad HTTP for an upgrade) rather than 404 (not a Purr request).
    public var isMalformed: Bool {
        if case .malformed = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .notGET(let method): return "not a Purr request: method \(method), expected GET"
        case .missingHeader(let name): return "not a Purr request: missing \(name) header"
        case .wrongHeader(let name, let value):
            return "not a Purr request: \(name): \(value.printableLine)"
        case .unsupportedVersion(let version):
            return "unsupported Purr-Version \(version.printableLine); this server speaks 0.1.0, 0.1.1, 0.1.2"
        case .malformed(let why):
            return "malformed request: \(why)"
        }
    }
}

extension UpgradeRequest {
    /// Validates a request head as the original server did, with clearer reasons. NIOHTTP1 accepts more
    /// than an upgrade may be: other HTTP/1 minor versions, absolute or `*` targets, and a body (whose bytes
    /// could not be told apart from the tunnel's). Those are refused here.
    public init(validating head: HTTPRequestHead) throws(UpgradeRequestError) {
        let upgrade = try Self.validateUpgrade(head)
        if upgrade == .websocket, let key = head.value(of: WebSocketHandshake.Header.key) {
            // A standard WebSocket: browsers and WebSocket libraries cannot send the Purr headers.
            try self.init(webSocket: head, key: key)
            return
        }
        guard let magic = head.value(of: PurrWire.Header.purrRequest) else {
            throw .missingHeader(PurrWire.Header.purrRequest)
        }
        guard magic == PurrWire.requestMagic else { throw .wrongHeader(PurrWire.Header.purrRequest, magic) }
        guard let version = head.value(of: PurrWire.Header.purrVersion) else {
            throw .missingHeader(PurrWire.Header.purrVersion)
        }
        guard PurrWire.acceptedVersions.contains(version) else { throw .unsupportedVersion(version) }
        self.init(
            path: head.uri,
            host: head.value(of: PurrWire.Header.host) ?? "",
            upgrade: upgrade,
            version: version,
            token: PresentedToken.find(in: head),
            extraHeaders: []
        )
        offersEarlyData = head.value(of: PurrWire.Header.earlyData) == "1"
    }

    /// The RFC 6455 checks: version 13 and a key of 16 bytes in base64.
    private init(webSocket head: HTTPRequestHead, key: String) throws(UpgradeRequestError) {
        let version = head.value(of: WebSocketHandshake.Header.version) ?? ""
        guard version.trimmingASCIIWhitespace() == WebSocketHandshake.version else {
            throw .malformed(
                "unsupported \(WebSocketHandshake.Header.version) '\(version.printableLine)'; this server speaks \(WebSocketHandshake.version)"
            )
        }
        let trimmedKey = key.trimmingASCIIWhitespace()
        guard WebSocketHandshake.isValidKey(trimmedKey) else {
            throw .malformed("\(WebSocketHandshake.Header.key) must be 16 bytes in base64")
        }
        self.init(
            path: head.uri,
            host: head.value(of: PurrWire.Header.host) ?? "",
            upgrade: .websocket,
            version: head.value(of: PurrWire.Header.purrVersion) ?? "",
            token: PresentedToken.find(in: head),
            extraHeaders: []
        )
        webSocketKey = trimmedKey
        webSocketProtocols = head.headers[canonicalForm: WebSocketHandshake.Header.protocols].map { String($0) }
    }

    /// The checks every upgrade shares: HTTP/1.x, a path, no body, GET, an `Upgrade` we speak, `Connection: Upgrade`.
    private static func validateUpgrade(_ head: HTTPRequestHead) throws(UpgradeRequestError) -> UpgradeProtocol {
        guard head.version == .http1_1 || head.version == .http1_0 else {
            throw .malformed("unsupported HTTP version HTTP/\(head.version.major).\(head.version.minor)")
        }
        guard head.uri.hasPrefix("/") else {
            throw .malformed("request target must be a path: \(head.uri.redactingQuery.printableLine)")
        }
        if head.headers.contains(name: "Transfer-Encoding")
            || head.headers["Content-Length"].contains(where: { $0.trimmingASCIIWhitespace() != "0" })
        {
            throw .malformed("an upgrade request cannot have a body")
        }
        guard head.method == .GET else { throw .notGET(head.method.rawValue) }
        guard let upgradeValue = head.combinedValue(of: PurrWire.Header.upgrade) else {
            throw .missingHeader(PurrWire.Header.upgrade)
        }
        guard let upgrade = UpgradeProtocol(headerValue: upgradeValue) else {
            throw .wrongHeader(PurrWire.Header.upgrade, upgradeValue)
        }
        guard head.value(of: PurrWire.Header.connection) != nil else {
            throw .missingHeader(PurrWire.Header.connection)
        }
        guard head.listContains(PurrWire.Header.connection, token: "upgrade") else {
            throw .wrongHeader(PurrWire.Header.connection, head.combinedValue(of: PurrWire.Header.connection) ?? "")
        }
        return upgrade
    }

    /// The path without its query string.
    public var routePath: String {
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { return String(path[..<q]) }
        return path
    }
}
