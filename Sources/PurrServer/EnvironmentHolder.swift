import PurrCore
import Synchronization

/// The one swappable part of a running server: the current settings snapshot and the configuration
/// it came from. New connections read it once at accept; a reload replaces both at once.
final class EnvironmentHolder: Sendable {
    private let state: Mutex<(environment: ServerEnvironment, config: ServerConfig)>

    init(_ environment: ServerEnvironment, config: ServerConfig) {
        state = Mutex((environment, config))
    }

    var current: ServerEnvironment { state.withLock { $0.environment } }
    var config: ServerConfig { state.withLock { $0.config } }

    func replace(with environment: ServerEnvironment, config: ServerConfig) {
        state.withLock { $0 = (environment, config) }
    }
}
