import PurrCore
import Synchronization

/// The one swappable part of a running server: the current settings snapshot and the configuration
/// it came from. New connections read it once at accept; a reload replaces both at once.
final class SettingsHolder: Sendable {
    private let state: Mutex<(settings: ServerSettings, config: ServerConfig)>

    init(_ settings: ServerSettings, config: ServerConfig) {
        state = Mutex((settings, config))
    }

    var current: ServerSettings { state.withLock { $0.settings } }
    var config: ServerConfig { state.withLock { $0.config } }

    func replace(with settings: ServerSettings, config: ServerConfig) {
        state.withLock { $0 = (settings, config) }
    }
}
