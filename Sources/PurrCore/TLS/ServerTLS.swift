import NIOCore
import NIOSSL
import Synchronization

/// The server's certificate and key, loaded from PEM files and reloadable (SIGHUP) without touching
/// connections already up: each new connection takes the context current at its accept.
public final class ServerTLS: Sendable {
    public let certificatePath: String
    public let keyPath: String
    private let context: Mutex<NIOSSLContext>

    public init(certificatePath: String, keyPath: String) throws(ConfigError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        context = Mutex(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// Reads the files again; on error the old certificate stays in use.
    public func reload() throws(ConfigError) {
        let fresh = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        context.withLock { $0 = fresh }
    }

    /// A TLS handler for one new connection.
    public func makeHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: context.withLock { $0 })
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
