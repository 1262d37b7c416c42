import NIOCore
import NIOSSL

/// The client's side of TLS: a context that trusts the system's roots (plus a private CA file), or,
/// with `insecure`, nothing at all; and TLS failures in words.
public enum ClientTLS {
    public static func makeContext(caFile: String?, insecure: Bool) throws(ConfigError) -> NIOSSLContext {
        let configuration = try makeConfiguration(caFile: caFile, insecure: insecure)
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigError("cannot set up TLS: \(error)")
        }
    }

    /// The configuration behind `makeContext`, for clients that build their own context (the admin stream's HTTP client).
    public static func makeConfiguration(caFile: String?, insecure: Bool) throws(ConfigError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if insecure { configuration.certificateVerification = .none }
        if let caFile {
            do {
                let roots = try NIOSSLCertificate.fromPEMFile(caFile)
                guard !roots.isEmpty else { throw ConfigError("\(caFile): no certificate in the file") }
                configuration.additionalTrustRoots = [.certificates(roots)]
            } catch let error as ConfigError {
                throw error
            } catch {
                throw ConfigError("\(caFile): not a PEM certificate file (\(error))")
            }
        }
        return configuration
    }

    /// The handler for one connection; SNI is the URL's host unless it is an IP address. It offers a
    /// session to resume when a `TLSSessionCache` is attached to `context` (`port` completes its key).
    public static func makeHandler(context: NIOSSLContext, host: String, port: Int? = nil) throws -> NIOSSLClientHandler {
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        let handler = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
        TLSSessionCache.prepare(handler, context: context, host: host, port: port)  // TLS resumption
        return handler
    }

    /// A TLS failure as a human reads it, or nil when `error` is not about TLS.
    public static func describe(_ error: any Error, host: String) -> String? {
        let text = "\(error)"
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "certificate is not valid for \(host)"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "certificate for \(host) not trusted: \(text)"
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return "TLS with \(host) failed: \(text)"
        }
        return nil
    }
}
