internal import CNIOBoringSSL
import NIOSSL

/// BoringSSL's objects inside swift-nio-ssl's types, found by reflection.
///
/// swift-nio-ssl (2.37.6, the newest there is) has no public API for a client's sessions, so TLS
/// resumption reads the pointers from stored properties: `NIOSSLContext.sslContext` (the `SSL_CTX*`)
/// and `NIOSSLHandler.connection.ssl` (the `SSL*`). Should a later version rename or retype them,
/// `layoutProblem` says what moved: resumption is off with one warning line when a tunnel first
/// attaches (`TLSSessionCache`), and `TLSResumptionLayoutTests` fails, naming it. Nothing else depends
/// on them.
enum BoringSSLAccess {
    /// What is not where resumption looks for it, checked once on a throwaway client context and
    /// handler (no socket); nil when both pointers are there and belong together.
    static let layoutProblem: String? = {
        let context: NIOSSLContext
        let handler: NIOSSLClientHandler
        do {
            context = try NIOSSLContext(configuration: .makeClientConfiguration())
            handler = try NIOSSLClientHandler(context: context, serverHostname: "localhost")
        } catch {
            return "cannot make a client context to look at (\(error))"
        }
        guard let sslContext = Self.context(of: context) else { return "NIOSSLContext has no SSL_CTX in 'sslContext'" }
        guard let ssl = connection(of: handler) else { return "NIOSSLHandler has no SSL in 'connection.ssl'" }
        guard SSL_get_SSL_CTX(ssl) == sslContext else { return "the SSL found does not belong to the SSL_CTX found" }
        return nil
    }()

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
