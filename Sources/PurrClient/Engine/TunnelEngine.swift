import Foundation
import Logging
import NIOCore
import NIOPosix
import PurrCore
import Synchronization

/// The client engine that `purr` and the TUI drive: a set of named tunnels, their state as a
/// snapshot readable from any thread, and a stream of events.
public final class TunnelEngine: Sendable {
    let group: any EventLoopGroup
    private let ownsGroup: Bool
    let logger: Logger
    let environment: [String: String]
    private let hub = EventHub()
    private let tunnels = Mutex<[(name: String, tunnel: Tunnel)]>([])

    /// - Parameters:
    ///   - group: event loops to run on; by default the engine makes its own, one per core.
    ///   - environment: where proxy settings come from (`HTTP_PROXY`, `NO_PROXY`).
    public init(
        group: (any EventLoopGroup)? = nil,
        threads: Int? = nil,
        logger: Logger = Logger(label: "purr"),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: EventLoopThreads.count(threads))
        self.ownsGroup = group == nil
        self.logger = logger
        self.environment = environment
    }

    /// Adds a tunnel (closed). Names are unique.
    @discardableResult
    public func add(_ config: TunnelConfig) throws(ConfigError) -> Tunnel {
        let tunnel = Tunnel(config: config, group: group, logger: logger, environment: environment, events: hub)
        let added = tunnels.withLock { list -> Bool in
            guard !list.contains(where: { $0.name == config.name }) else { return false }
            list.append((config.name, tunnel))
            return true
        }
        guard added else { throw ConfigError("a tunnel named '\(config.name)' already exists") }
        hub.emit(.tunnelStateChanged(name: config.name, state: .closed))
        return tunnel
    }

    /// Closes and forgets a tunnel.
    public func remove(_ name: String) async {
        let removed = tunnels.withLock { list -> Tunnel? in
            guard let index = list.firstIndex(where: { $0.name == name }) else { return nil }
            return list.remove(at: index).tunnel
        }
        guard let removed else { return }
        await removed.close()
        hub.emit(.tunnelRemoved(name: name))
    }

    /// Replaces a tunnel's settings; it is reopened if it was open.
    public func update(_ name: String, to config: TunnelConfig) async throws(ConfigError) {
        guard let old = tunnel(named: name) else { throw ConfigError("no tunnel named '\(name)'") }
        if config.name != name, tunnel(named: config.name) != nil {
            throw ConfigError("a tunnel named '\(config.name)' already exists")
        }
        let wasOpen = old.snapshot.state == .listening
        let replacement = Tunnel(config: config, group: group, logger: logger, environment: environment, events: hub)
        await old.close()
        tunnels.withLock { list in
            if let index = list.firstIndex(where: { $0.name == name }) { list[index] = (config.name, replacement) }
        }
        if config.name != name { hub.emit(.tunnelRemoved(name: name)) }
        hub.emit(.tunnelStateChanged(name: config.name, state: .closed))
        if wasOpen { await replacement.open() }
    }

    public func tunnel(named name: String) -> Tunnel? {
        tunnels.withLock { list in list.first { $0.name == name }?.tunnel }
    }

    /// Opens a tunnel by name; returns its state afterwards (nil if there is no such tunnel).
    @discardableResult
    public func open(_ name: String) async -> TunnelState? {
        guard let tunnel = tunnel(named: name) else { return nil }
        return await tunnel.open()
    }

    public func close(_ name: String) async {
        await tunnel(named: name)?.close()
    }

    /// Every tunnel's state, in the order they were added.
    public func snapshot() -> [TunnelSnapshot] {
        tunnels.withLock { $0.map(\.tunnel) }.map(\.snapshot)
    }

    public func snapshot(of name: String) -> TunnelSnapshot? {
        tunnel(named: name)?.snapshot
    }

    /// A stream of state changes; each call gets its own.
    public func events() -> AsyncStream<TunnelEvent> {
        hub.stream()
    }

    /// Closes every tunnel (and the event loops, if the engine made them).
    public func shutdown() async {
        let all = tunnels.withLock { $0.map(\.tunnel) }
        for tunnel in all { await tunnel.close() }
        hub.finish()
        if ownsGroup { try? await group.shutdownGracefully() }
    }
}
