import ServiceLifecycle
import UnixSignals

/// SIGHUP as a service: each delivery runs `reload`, one at a time (a SIGHUP during a reload runs it once
/// more afterwards); ends at the group's graceful shutdown. The signal is trapped before the group starts
/// (`hangUps`), so one sent right after the program says it is ready is never lost.
struct ReloadService: Service, CustomStringConvertible {
    let hangUps: UnixSignalsSequence
    let reload: @Sendable () async -> Void

    var description: String { "reload" }

    func run() async throws {
        for await _ in hangUps.cancelOnGracefulShutdown() {
            await reload()
        }
    }
}
