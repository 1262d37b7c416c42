import NIOCore
import NIOSSL
import Synchronization

/// The server's certificate and key, loaded from PEM files and reloadable (SIGHUP) without touching
/// connections already up: each new connection takes the context current at its accept.
public final class ServerTLS: Sendable {
    private let state: Mutex<(context: NIOSSLContext, certificatePath: String, keyPath: String)>

    public init(certificatePath: String, keyPath: String) throws(ConfigError) {
        state = Mutex((try Self.load(certificatePath: certificatePath, keyPath: keyPath), certificatePath, keyPath))
    }

    public var certificatePath: String { state.withLock { $0.certificatePath } }
    public var keyPath: String { state.withLock { $0.keyPath } }

    /// Reads the files again (by default the same paths); on error the old certificate stays in use.
    public func reload(certificatePath: String? = nil, keyPath: String? = nil) throws(ConfigError) {
        let (oldCertificate, oldKey) = state.withLock { ($0.certificatePath, $0.keyPath) }
        let certificate = certificatePath ?? oldCertificate
        let key = keyPath ?? oldKey
        let fresh = try Self.load(certificatePath: certificate, keyPath: key)
        state.withLock { $0 = (fresh, certificate, key) }
    }

    /// A TLS handler for one new connection.
    public func makeHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: state.withLock { $0.context })
    }

    static func load(certificatePath: String, keyPath: String) throws(ConfigError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ConfigError("\(certificatePath): not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ConfigError("\(certificatePath): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw ConfigError("\(keyPath): not a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigError("\(certificatePath), \(keyPath): the key does not fit the certificate or is unusable (\(error))")
        }
    }
}
