import NIOHTTP1

/// The token a client presents, found the one way at every site (a route, the admin endpoint):
/// `Authorization: Bearer T`, else `Purr-Token: T`, else `?token=T` in the request target (WebSocket
/// clients such as browsers cannot set headers). Never log what it returns.
public enum PresentedToken {
    /// The query item that carries a token.
    public static let queryName = "token"

    public static func find(in head: HTTPRequestHead) -> String? {
        if let authorization = head.headers.first(name: PurrWire.Header.authorization), let token = bearer(authorization) {
            return token
        }
        if let token = head.headers.first(name: PurrWire.Header.purrToken) { return token }
        // Most requests have no query: not parsed for nothing.
        guard head.uri.utf8.contains(UInt8(ascii: "?")) else { return nil }
        return RequestTarget(head.uri)?.value(of: queryName)
    }

    /// The credentials of a `Bearer` authorization value (scheme case-insensitive), nil for another scheme.
    public static func bearer(_ value: String) -> String? {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingASCIIWhitespace()
    }
}
