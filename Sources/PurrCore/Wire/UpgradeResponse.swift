import NIOCore
import NIOHTTP1

/// Server answers: the exact 101 of the original Ruby server, and one-line error responses.
public enum UpgradeResponse {
    /// The original server's 101, byte for byte; only the `Upgrade` value follows the request. A client
    /// that offered early data (only ours do) learns that this server keeps it.
    public static func switching(_ upgrade: UpgradeProtocol, earlyData: Bool = false) -> String {
        "HTTP/1.1 101 Switching Protocols\r\n"
            + "Upgrade: \(upgrade.rawValue)\r\n"
            + "Purr-Version: \(PurrWire.clientVersion)\r\n"
            + "Purr-Request: \(PurrWire.requestMagic)\r\n"
            + "Connection: Upgrade\r\n"
            + (earlyData ? "\(PurrWire.Header.earlyData): 1\r\n" : "") + "\r\n"
    }

    /// Whether a 101 says the server keeps bytes sent behind the request head.
    public static func acceptsEarlyData(_ head: HTTPResponseHead) -> Bool {
        head.value(of: PurrWire.Header.earlyData) == "1"
    }

    /// A plain-text error with a one-line body; the connection closes after it.
    public static func error(status: Int, reason: String, message: String) -> String {
        let body = message.replacingNewlines() + "\n"
        return "HTTP/1.1 \(status) \(reason)\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + body
    }
}

/// Why a server's answer is not a valid 101: phrased for a human reading a tunnel's last error.
public enum UpgradeResponseError: Error, Equatable, Sendable, CustomStringConvertible {
    case status(code: String, reason: String, body: String)
    case missingOrWrong(header: String, got: String?)
    case malformed(String)
    case closedBeforeResponse

    public var description: String {
        switch self {
        case .status(let code, let reason, let body):
            let tail = body.isEmpty ? "" : ": \(body)"
            return "server answered \(code) \(reason)\(tail)"
        case .missingOrWrong(let header, let got):
            if let got { return "server answered 101 with \(header): \(got.printableLine)" }
            return "server answered 101 without \(header)"
        case .malformed(let why): return "server sent a bad response: \(why)"
        case .closedBeforeResponse: return "server closed the connection before answering"
        }
    }
}

extension UpgradeResponse {
    /// Checks a response head the way the original client did: 101, Upgrade, Connection, Purr-Request.
    public static func validate(_ head: HTTPResponseHead, expected: UpgradeProtocol) throws(UpgradeResponseError) {
        guard head.status == .switchingProtocols else {
            throw .status(code: String(head.status.code), reason: head.status.reasonPhrase, body: "")
        }
        guard let upgrade = head.value(of: PurrWire.Header.upgrade),
            UpgradeProtocol(headerValue: upgrade) == expected
        else { throw .missingOrWrong(header: "Upgrade", got: head.value(of: PurrWire.Header.upgrade)) }
        guard head.listContains(PurrWire.Header.connection, token: "upgrade") else {
            throw .missingOrWrong(header: "Connection", got: head.value(of: PurrWire.Header.connection))
        }
        guard head.value(of: PurrWire.Header.purrRequest) == PurrWire.requestMagic else {
            throw .missingOrWrong(header: "Purr-Request", got: head.value(of: PurrWire.Header.purrRequest))
        }
    }
}

extension String {
    func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
