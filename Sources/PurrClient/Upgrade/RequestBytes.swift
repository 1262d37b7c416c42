import NIOCore
import PurrCore

/// A tunnel's upgrade request serialized and checked once, not per connection: each connection adds only
/// what is its own (the WebSocket key, the `Purr-Connection` id) between the parts kept here, byte for
/// byte what `UpgradeRequest.encoded()` would write.
struct RequestBytes: Sendable {
    /// The request line and the fields up to the token (the key's lines follow).
    private let prefix: ByteBuffer
    /// The extra headers and the early-data offer (the connection's id follows).
    private let middle: ByteBuffer
    /// The server's last 101 to this request (shared by every copy: one per tunnel).
    let knownAnswer = KnownAnswer()

    /// nil when `template` does not pass `UpgradeRequest.validate()` (each connection then says why).
    init?(_ template: UpgradeRequest) {
        var base = template
        base.webSocketKey = nil
        base.connectionID = nil
        guard (try? base.validate()) != nil else { return nil }
        let whole = base.encoded()
        var head = base
        head.extraHeaders = []
        head.offersEarlyData = false
        let front = String(head.encoded().utf8.dropLast(2))!  // without the empty line
        let back = String(whole.utf8.dropFirst(front.utf8.count).dropLast(2))!
        self.prefix = ByteBuffer(string: front)
        self.middle = ByteBuffer(string: back)
    }

    /// One connection's request: `request` is the template with its own key and id (nothing else differs).
    func bytes(for request: UpgradeRequest, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: prefix.readableBytes + middle.readableBytes + 160)
        buffer.writeImmutableBuffer(prefix)
        if let key = request.webSocketKey {
            buffer.writeString("\(WebSocketHandshake.Header.key): \(key)\r\n")
            buffer.writeString("\(WebSocketHandshake.Header.version): \(WebSocketHandshake.version)\r\n")
            buffer.writeString("\(WebSocketHandshake.Header.protocols): \(WebSocketHandshake.binaryProtocol)\r\n")
        }
        buffer.writeImmutableBuffer(middle)
        if let id = request.connectionID { buffer.writeString("\(PurrWire.Header.purrConnection): \(id)\r\n") }
        buffer.writeStaticString("\r\n")
        return buffer
    }
}
