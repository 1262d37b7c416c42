import Dispatch
import Foundation
import Logging
import PurrCore

/// Reloads the certificate and key on SIGHUP; relays already up keep their sessions.
final class TLSReloader: @unchecked Sendable {
    /// Unchecked: set once in init, only kept alive afterwards.
    private let source: any DispatchSourceSignal

    init(tls: ServerTLS, logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do {
                try tls.reload()
                logger.notice("TLS certificate reloaded", metadata: ["cert": "\(tls.certificatePath)"])
            } catch {
                logger.error(
                    "TLS reload failed, keeping the old certificate",
                    metadata: ["reason": "\((error as? ConfigError)?.message ?? "\(error)")"])
            }
        }
        source.resume()
    }
}
