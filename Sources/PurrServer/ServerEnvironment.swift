import Logging
import NIOCore
import PurrCore

/// What every connection handler of one server shares.
final class ServerEnvironment: Sendable {
    let routes: RouteTable
    let registry: StatsRegistry
    let logger: Logger
    let headerTimeout: TimeAmount
    let connectTimeout: TimeAmount = .seconds(10)
    /// How long a refused client may keep sending before we hang up on it.
    let lingerTimeout: TimeAmount = .seconds(2)

    init(routes: RouteTable, registry: StatsRegistry, logger: Logger, headerTimeout: Double) {
        self.routes = routes
        self.registry = registry
        self.logger = logger
        self.headerTimeout = .nanoseconds(Int64(headerTimeout * 1e9))
    }
}
