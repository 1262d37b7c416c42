import PurrCore

/// What `TunnelEngine.reconcile(to:)` did: tunnels by name.
public struct ReconcileSummary: Sendable, Equatable {
    /// Same settings: left alone, their connections untouched.
    public var unchanged: [String] = []
    /// Settings changed: closed and opened again with the new ones.
    public var reopened: [String] = []
    public var opened: [String] = []
    public var closed: [String] = []
    /// Tunnels that did not reach `listening`, with the state they ended in.
    public var failed: [(name: String, state: TunnelState)] = []

    public static func == (lhs: ReconcileSummary, rhs: ReconcileSummary) -> Bool {
        lhs.unchanged == rhs.unchanged && lhs.reopened == rhs.reopened && lhs.opened == rhs.opened && lhs.closed == rhs.closed
            && lhs.failed.map(\.name) == rhs.failed.map(\.name)
    }
}

extension TunnelEngine {
    /// Makes the open tunnels exactly `wanted` (a reloaded `tunnels.toml`): tunnels not wanted are
    /// closed and removed, changed ones reopened, new ones opened, unchanged ones left alone.
    public func reconcile(to wanted: [TunnelConfig]) async -> ReconcileSummary {
        var summary = ReconcileSummary()
        let wantedNames = Set(wanted.map(\.name))
        for current in snapshot().map(\.name) where !wantedNames.contains(current) {
            await remove(current)
            summary.closed.append(current)
        }
        for config in wanted {
            let state: TunnelState?
            if let existing = tunnel(named: config.name) {
                if existing.config == config, existing.snapshot.state == .listening {
                    summary.unchanged.append(config.name)
                    continue
                }
                do {
                    try await update(config.name, to: config)
                } catch {
                    summary.failed.append((config.name, .error(error.message)))
                    continue
                }
                state = await open(config.name)
                summary.reopened.append(config.name)
            } else {
                do {
                    try add(config)
                } catch {
                    summary.failed.append((config.name, .error(error.message)))
                    continue
                }
                state = await open(config.name)
                summary.opened.append(config.name)
            }
            if let state, state != .listening { summary.failed.append((config.name, state)) }
        }
        return summary
    }
}
