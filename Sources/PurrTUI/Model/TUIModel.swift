import Foundation
import PurrClient
import PurrCore

/// Everything the screen shows, as plain values: the app loop updates it, the views draw it.
public struct TUIModel: Sendable {
    public struct TunnelRow: Sendable {
        public var snapshot: TunnelSnapshot
        public var up = RateMeter()
        public var down = RateMeter()

        public init(snapshot: TunnelSnapshot) { self.snapshot = snapshot }
    }

    public struct ServerRow: Sendable {
        public var name: String
        public var state: AdminStream.State
        public var snapshot: StatsSnapshot?
        public var routeRates: [String: RateMeter] = [:]

        public init(name: String, state: AdminStream.State, snapshot: StatsSnapshot?) {
            self.name = name
            self.state = state
            self.snapshot = snapshot
        }
    }

    public enum Pane: Int, CaseIterable, Sendable { case tunnels, connections, servers }

    public enum Mode: Sendable, Equatable {
        case normal
        case help
        case filter
        case form(TunnelForm)
        case confirmDelete(String)
    }

    public var tunnels: [TunnelRow] = []
    public var servers: [ServerRow] = []
    public var selected = 0
    public var scroll = 0
    public var pane = Pane.tunnels
    public var mode = Mode.normal
    public var filter = ""
    /// One line at the bottom: the last action's result or error (a write error is shown, not lost).
    public var status: (text: String, isError: Bool)?
    public var themeName = "default"
    public var now = Date()
    public var configPath: String?

    public init() {}

    /// The tunnels the filter lets through.
    public var visible: [TunnelRow] {
        guard !filter.isEmpty else { return tunnels }
        return tunnels.filter { $0.snapshot.name.localizedCaseInsensitiveContains(filter) }
    }

    public var selectedTunnel: TunnelRow? {
        let rows = visible
        return rows.indices.contains(selected) ? rows[selected] : nil
    }

    /// Takes new engine snapshots at monotonic `time`, keeping each tunnel's rate history.
    public mutating func update(snapshots: [TunnelSnapshot], time: Double) {
        let previous = Dictionary(tunnels.map { ($0.snapshot.name, $0) }, uniquingKeysWith: { a, _ in a })
        tunnels = snapshots.map { snapshot in
            var row = previous[snapshot.name] ?? TunnelRow(snapshot: snapshot)
            row.snapshot = snapshot
            row.up.sample(total: snapshot.bytesUp, at: time)
            row.down.sample(total: snapshot.bytesDown, at: time)
            return row
        }
        clampSelection()
    }

    /// Takes the admin streams' state and latest snapshots.
    public mutating func update(servers streams: [(name: String, state: AdminStream.State, snapshot: StatsSnapshot?)], time: Double) {
        let previous = Dictionary(servers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        servers = streams.map { stream in
            var row = previous[stream.name] ?? ServerRow(name: stream.name, state: stream.state, snapshot: nil)
            row.state = stream.state
            row.snapshot = stream.snapshot
            for route in stream.snapshot?.routes ?? [] {
                row.routeRates[route.path, default: RateMeter()].sample(total: route.bytesIn + route.bytesOut, at: time)
            }
            return row
        }
    }

    public mutating func move(by delta: Int) {
        selected += delta
        clampSelection()
    }

    public mutating func clampSelection() {
        let count = visible.count
        selected = count == 0 ? 0 : min(max(0, selected), count - 1)
    }

    /// Keeps the selected row inside the `rows` visible lines of the table.
    public mutating func scrollToSelection(rows: Int) {
        guard rows > 0 else { return }
        if selected < scroll { scroll = selected }
        if selected >= scroll + rows { scroll = selected - rows + 1 }
        scroll = max(0, min(scroll, max(0, visible.count - rows)))
    }

    /// Totals for the header.
    public var counts: (tunnels: Int, open: Int, active: Int) {
        (tunnels.count, tunnels.filter { $0.snapshot.state == .listening }.count, tunnels.reduce(0) { $0 + $1.snapshot.active })
    }
}
