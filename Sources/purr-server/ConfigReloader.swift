import Logging
import PurrCore
import PurrServer

/// SIGHUP: re-reads `server.toml` (with the same flags on top) and applies it to new connections;
/// relays already up keep going. A file that does not load keeps the old configuration, logs one
/// line naming the file, key and problem, and is counted in `/metrics` and `/stats`.
struct ConfigReloader: Sendable {
    let resolve: @Sendable () throws(ConfigError) -> ServerConfig
    let server: PurrServer
    let admin: AdminServer?
    let levelSwitch: LogLevelSwitch
    let logger: Logger

    /// One reload; the lifecycle's reload service runs them one at a time.
    func reload() {
        let outcome: ReloadOutcome
        let fresh: ServerConfig
        do {
            fresh = try resolve()
            // Checked before anything changes: a reload is taken whole or not at all.
            if let running = admin, let wanted = fresh.admin { try running.check(wanted) }
            outcome = try server.reload(to: fresh)
        } catch {
            server.registry.configReloadFailed()
            logger.error("config reload failed, keeping the old configuration", metadata: ["reason": "\(error.message)"])
            return
        }
        var notes = outcome.notes
        switch (admin, fresh.admin) {
        case (let running?, let wanted?): notes += (try? running.reload(to: wanted)) ?? []
        case (nil, .some): notes.append("the admin endpoint starts at the next restart")
        case (.some, nil): notes.append("the admin endpoint stays up until the next restart")
        case (nil, nil): break
        }
        logger.notice(
            "config reloaded",
            metadata: [
                "generation": "\(outcome.generation)", "routes": "\(outcome.routes)", "dropped": "\(outcome.droppedRelays)",
            ])
        if let certificate = outcome.certificate { logger.notice("TLS certificate reloaded", metadata: ["cert": "\(certificate)"]) }
        for note in notes { logger.warning("\(note)") }
        // Last, so the line saying what happened is written at the level it was asked for.
        levelSwitch.level = fresh.logLevel
    }
}
