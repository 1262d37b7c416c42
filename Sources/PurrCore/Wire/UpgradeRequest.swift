import NIOCore

/// A Purr upgrade request: what the client sends, and what the server checks.
public struct UpgradeRequest: Sendable, Equatable {
    public var path: String
    public var host: String
    public var upgrade: UpgradeProtocol
    public var version: String
    public var token: String?
    /// Extra headers (for auth proxies in front of the server), sent after the Purr ones.
    public var extraHeaders: [(name: String, value: String)]
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

    /// The request bytes, in the original Go client's header order; a token and extra headers go last.
    public func encoded() -> String {
        var text = "GET \(path) HTTP/1.1\r\n"
        text += "Host: \(host)\r\n"
        text += "User-Agent: \(PurrWire.userAgent)\r\n"
        text += "Connection: Upgrade\r\n"
        text += "\(PurrWire.Header.purrRequest): \(PurrWire.requestMagic)\r\n"
        text += "\(PurrWire.Header.purrVersion): \(version)\r\n"
        text += "Upgrade: \(upgrade.rawValue)\r\n"
        text += "Accept-Encoding: gzip\r\n"
        if let token { text += "Authorization: Bearer \(token)\r\n" }
        for header in extraHeaders { text += "\(header.name): \(header.value)\r\n" }
        if let connectionID { text += "\(PurrWire.Header.purrConnection): \(connectionID)\r\n" }
        text += "\r\n"
        return text
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

    public var description: String {
        switch self {
        case .notGET(let method): return "not a Purr request: method \(method), expected GET"
        case .missingHeader(let name): return "not a Purr request: missing \(name) header"
        case .wrongHeader(let name, let value):
            return "not a Purr request: \(name): \(HTTPHeadParser.printable(value))"
        case .unsupportedVersion(let version):
            return "unsupported Purr-Version \(HTTPHeadParser.printable(version)); this server speaks 0.1.0, 0.1.1, 0.1.2"
        }
    }
}

extension UpgradeRequest {
    /// Validates a parsed request head as the original server did, with clearer reasons.
    public init(validating head: HTTPHead) throws(UpgradeRequestError) {
        guard head.first == "GET" else { throw .notGET(head.first) }
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
        guard let magic = head.value(of: PurrWire.Header.purrRequest) else {
            throw .missingHeader(PurrWire.Header.purrRequest)
        }
        guard magic == PurrWire.requestMagic else { throw .wrongHeader(PurrWire.Header.purrRequest, magic) }
        guard let version = head.value(of: PurrWire.Header.purrVersion) else {
            throw .missingHeader(PurrWire.Header.purrVersion)
        }
        guard PurrWire.acceptedVersions.contains(version) else { throw .unsupportedVersion(version) }
        self.init(
            path: head.second,
            host: head.value(of: PurrWire.Header.host) ?? "",
            upgrade: upgrade,
            version: version,
            token: Self.presentedToken(in: head),
            extraHeaders: []
        )
    }

    /// The token from `Authorization: Bearer T` or `Purr-Token: T`.
    static func presentedToken(in head: HTTPHead) -> String? {
        if let auth = head.value(of: PurrWire.Header.authorization) {
            let parts = auth.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].trimmingASCIIWhitespace()
            }
        }
        return head.value(of: PurrWire.Header.purrToken)
    }

    /// The path without its query string.
    public var routePath: String {
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { return String(path[..<q]) }
        return path
    }
}
