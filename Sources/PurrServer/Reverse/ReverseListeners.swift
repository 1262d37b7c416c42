import Logging
import NIOCore
import PurrCore
import Synchronization

/// The published listeners of a server's `[[reverse]]` entries: started with the server, stopped at
/// shutdown. Entries are read at start; a reload keeps them (their held requests live on).
final class ReverseListeners: Sendable {
    private let running = Mutex<[ReverseListener]>([])

    /// Binds every entry's published side; on a failure the ones bound are stopped and it throws.
    func start(_ entries: [ReverseEntry], group: any EventLoopGroup, logger: Logger) throws {
        var started: [ReverseListener] = []
        for entry in entries {
            let listener = ReverseListener(entry: entry, group: group, logger: logger)
            do {
                try listener.start()
            } catch {
                for listener in started { listener.stop() }
                throw error
            }
            started.append(listener)
        }
        running.withLock { $0 = started }
    }

    func stop() {
        for listener in running.withLock({ state in
            defer { state = [] }
            return state
        }) { listener.stop() }
    }

    /// A reload keeps the running entries (with their registered clients); a changed `[[reverse]]`
    /// waits for a restart and says so.
    static func keep(_ old: ServerConfig, in new: inout ServerConfig) -> String? {
        let changed = old.reverses.map(\.summary) != new.reverses.map(\.summary)
        new.routes.removeAll { route in new.reverses.contains { $0.publish == route.path } }
        new.routes += old.reverses.compactMap { try? $0.publishRoute(headerTimeout: new.headerTimeout) }
        new.reverses = old.reverses
        return changed ? "[[reverse]] changes take effect at the next restart" : nil
    }
}

extension ReverseEntry {
    /// What a reload compares (never the token itself).
    var summary: String {
        "\(name) \(path) \(listen?.description ?? "-") \(publish ?? "-") \(share) \(maxClients) \(pool) \(waitTimeout) \(token?.utf8.count ?? 0)"
    }
}

extension ServerConfig {
    /// Reads `[[reverse]]` and adds each entry's `publish` route.
    mutating func loadReverses(from toml: TOMLReader) throws(ConfigError) {
        reverses = try ReverseEntry.load(from: toml)
        for entry in reverses {
            if routes.contains(where: { $0.path == entry.path }) {
                throw ConfigError("\(toml.file): reverse \(entry.name).path: '\(entry.path)' is also a route's path")
            }
            guard let route = try entry.publishRoute(headerTimeout: headerTimeout) else { continue }
            if routes.contains(where: { $0.path == route.path && $0.host == nil }) {
                throw ConfigError("\(toml.file): reverse \(entry.name).publish: a route for path '\(route.path)' is already defined")
            }
            routes.append(route)
        }
    }
}
