import Crypto
import Foundation
import NIOHTTP1

/// RFC 6455's opening handshake: the key a client sends, the accept value a server answers, the server's
/// 101 and the client's check of it. Framing is `WebSocketFrameBridge`'s (its parser and writer).
public enum WebSocketHandshake {
    public static let version = "13"
    /// RFC 6455 section 1.3: appended to the key before hashing.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// websockify's convention for raw bytes in binary messages; answered when a client offers it.
    public static let binaryProtocol = "binary"

    public enum Header {
        public static let key = "Sec-WebSocket-Key"
        public static let accept = "Sec-WebSocket-Accept"
        public static let version = "Sec-WebSocket-Version"
        public static let protocols = "Sec-WebSocket-Protocol"
    }

    /// A fresh client key: 16 random bytes in base64.
    public static func makeKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
    }

    public static func isValidKey(_ key: String) -> Bool {
        Data(base64Encoded: key)?.count == 16
    }

    /// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)).
    public static func accept(for key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + guid).utf8))).base64EncodedString()
    }

    /// The server's 101 for a WebSocket client, with `Sec-WebSocket-Protocol: binary` if it was offered.
    public static func switching(key: String, offered protocols: [String]) -> String {
        var response =
            "HTTP/1.1 101 Switching Protocols\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + "\(Header.accept): \(accept(for: key))\r\n"
        if protocols.contains(where: { $0.trimmingASCIIWhitespace().lowercased() == binaryProtocol }) {
            response += "\(Header.protocols): \(binaryProtocol)\r\n"
        }
        return response + "\r\n"
    }

    /// How a server answered a client's WebSocket request.
    public enum Answer: Equatable, Sendable {
        /// A WebSocket: frames follow.
        case framed
        /// The original Purr server's 101 (no accept value): raw bytes follow, as in its compatibility mode.
        case originalPurr
    }

    /// Checks a 101 to a request with `key`; a 101 without `Sec-WebSocket-Accept` passes only as the original Purr's.
    public static func validate(_ head: HTTPResponseHead, key: String) throws(UpgradeResponseError) -> Answer {
        guard head.status == .switchingProtocols else {
            throw .status(code: String(head.status.code), reason: head.status.reasonPhrase, body: "")
        }
        guard let upgrade = head.value(of: PurrWire.Header.upgrade), UpgradeProtocol(headerValue: upgrade) == .websocket else {
            throw .missingOrWrong(header: "Upgrade", got: head.value(of: PurrWire.Header.upgrade))
        }
        guard head.listContains(PurrWire.Header.connection, token: "upgrade") else {
            throw .missingOrWrong(header: "Connection", got: head.value(of: PurrWire.Header.connection))
        }
        guard let accept = head.value(of: Header.accept) else {
            if head.value(of: PurrWire.Header.purrRequest) == PurrWire.requestMagic { return .originalPurr }
            throw .missingOrWrong(header: Header.accept, got: nil)
        }
        guard accept.trimmingASCIIWhitespace() == Self.accept(for: key) else {
            throw .missingOrWrong(header: Header.accept, got: accept)
        }
        if let chosen = head.value(of: Header.protocols), chosen.trimmingASCIIWhitespace().lowercased() != binaryProtocol {
            throw .missingOrWrong(header: Header.protocols, got: chosen)
        }
        return .framed
    }
}
