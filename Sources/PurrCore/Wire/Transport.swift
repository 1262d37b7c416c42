/// How a relayed connection speaks to its client, as stats and logs name it.
public enum Transport: String, Sendable, Codable, CaseIterable {
    /// The original protocol: `Upgrade: purr`, then raw bytes.
    case purr
    /// The original client's `Upgrade: websocket` without a WebSocket handshake: raw bytes after the 101.
    case websocketCompat = "websocket-compat"
    /// A real WebSocket (RFC 6455): binary frames both ways.
    case websocket
}
