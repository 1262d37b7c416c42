import PurrServer
import ServiceLifecycle

/// Ends when a drain is asked for on the admin endpoint (`POST /drain`), which shuts the process's
/// service group down gracefully, the same path SIGTERM takes; ends quietly at any other shutdown.
struct DrainRequestService: Service, CustomStringConvertible {
    let server: PurrServer

    var description: String { "drain-request" }

    func run() async throws {
        let server = self.server
        try? await cancelWhenGracefulShutdown { await server.waitForDrainRequest() }
    }
}
