import ServiceLifecycle

/// What a program starts and stops around its life: `start` runs once the group traps the stop signals
/// (a signal while it runs is a graceful shutdown as well, taken after it), then the service waits for the
/// graceful shutdown and runs `stop`.
struct ShutdownService: Service, CustomStringConvertible {
    let start: @Sendable () async -> Void
    let stop: @Sendable () async -> Void

    var description: String { "main" }

    func run() async throws {
        await start()
        // Cancelled instead (the group failed): stopping is just as needed.
        try? await gracefulShutdown()
        await stop()
    }
}
