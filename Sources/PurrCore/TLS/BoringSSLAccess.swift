import NIOSSL

/// BoringSSL's objects inside swift-nio-ssl's types, found by reflection.
///
/// swift-nio-ssl 2.37 (the pinned version) has no public API for a client's sessions, so TLS
/// resumption reads the pointers from stored properties: `NIOSSLContext.sslContext` (the `SSL_CTX*`)
/// and `NIOSSLHandler.connection.ssl` (the `SSL*`). Should a later version rename them, these return
/// nil and resumption is off (`TLSSessionCache` says so once); nothing else depends on them.
enum BoringSSLAccess {
    /// The context's `SSL_CTX*`.
    static func context(of context: NIOSSLContext) -> OpaquePointer? {
        value(named: "sslContext", in: context) as? OpaquePointer
    }

    /// The handler's `SSL*` (made when the handler is, before its handshake starts).
    static func connection(of handler: NIOSSLHandler) -> OpaquePointer? {
        guard let connection = value(named: "connection", in: handler) else { return nil }
        return value(named: "ssl", in: connection) as? OpaquePointer
    }

    /// A stored property of `subject` or of one of its superclasses (the client handler keeps its
    /// connection in `NIOSSLHandler`).
    private static func value(named name: String, in subject: Any) -> Any? {
        var mirror: Mirror? = Mirror(reflecting: subject)
        while let current = mirror {
            if let child = current.children.first(where: { $0.label == name }) { return child.value }
            mirror = current.superclassMirror
        }
        return nil
    }
}
