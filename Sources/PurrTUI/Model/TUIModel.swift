import Foundation
import PurrClient
import PurrCore

/// Everything the screen shows, as plain values: the app loop updates it, the views draw it.
public struct TUIModel: Sendable {
    public struct TunnelRow: Sendable {
        public var snapshot: TunnelSnapshot
        public var up = RateMeter()
        public var down = RateMeter()
        /// When (model time) this tunnel's failure count last grew; whether a connection worked since.
        var lastFailure: Double?
        var workedSince = false
        var closedOK = 0
        /// Its recent connections failed and none has worked since (within five minutes).
        public private(set) var isFailing = false

        public init(snapshot: TunnelSnapshot) { self.snapshot = snapshot }

        /// Follows the counters: a grown failure count marks it failing, a connection that relays or
        /// ends cleanly clears that.
        mutating func track(_ new: TunnelSnapshot, previous: TunnelSnapshot?, time: Double) {
            if new.failed > (previous?.failed ?? 0) {
                lastFailure = time
                workedSince = false
            }
            let ok = new.total - new.active - new.failed
            if ok > closedOK || new.connections.contains(where: { $0.state == .relaying }) { workedSince = true }
            closedOK = ok
            isFailing = new.state == .listening && !workedSince && lastFailure.map { time - $0 < 300 } ?? false
        }

        /// A reverse tunnel says `exposed`, `registering` or `refused` where a forward one says `listening`.
        public var stateWord: String {
            if isFailing { return "failing" }
            if let reverse = snapshot.reverse, snapshot.state == .listening { return reverse.stateWord }
            return StateSymbol.word(snapshot.state)
        }

        /// The filter matches any column: name, addresses, server URLs (every one of a list), state, last error.
        func matches(_ filter: String) -> Bool {
            let fields =
                [snapshot.name, snapshot.config.url.redacted, stateWord, snapshot.lastError ?? ""] + snapshot.boundAddresses
                + snapshot.servers.map(\.url)
            return fields.contains { $0.localizedCaseInsensitiveContains(filter) }
        }
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

    public enum Pane: Int, CaseIterable, Sendable { case tunnels, connections, servers, events }

    public enum GraphRange: Int, Sendable, CaseIterable {
        case minute = 60
        case tenMinutes = 600

        public var label: String { self == .minute ? "60 s" : "10 min" }
    }

    public enum Mode: Sendable, Equatable {
        case normal
        case help
        case filter
        case form(TunnelForm)
        case confirmDelete(String)
    }

    public var tunnels: [TunnelRow] = [] { didSet { refreshVisible() } }
    /// The tunnels the filter lets through, in the sort's order.
    public private(set) var visible: [TunnelRow] = []
    public var servers: [ServerRow] = []
    public var selected = 0
    public var scroll = 0
    public var pane = Pane.tunnels
    public var mode = Mode.normal
    /// The tunnel table's filter (any column).
    public var filter = "" { didSet { refreshVisible() } }
    public var sort = TunnelSort() { didSet { refreshVisible() } }
    /// Connections opening, closing and failing, both ends; the event pane's filter and scroll
    /// (lines up from the newest).
    public var log = EventLog()
    public var eventFilter = ""
    public var eventScroll = 0
    public var connectionSelected = 0
    public var serverScroll = 0
    public var graphRange = GraphRange.minute
    /// The watched servers' live connections, by the client's connection id.
    public private(set) var serverConnections: [String: StatsSnapshot.Connection] = [:]
    /// Which watched server (by name) each of those came from.
    public private(set) var serverConnectionNames: [String: String] = [:]
    /// Tunnel name -> index in its server list -> the `[[servers]]` entry seen to carry its connections
    /// (learned from joined connections, kept once seen).
    public private(set) var serverLinks: [String: [Int: String]] = [:]

    /// The tunnels' servers a watched server was seen to be: `pair #1`.
    public func links(ofWatched name: String) -> [String] {
        serverLinks.sorted { $0.key < $1.key }.flatMap { tunnel, servers in
            servers.filter { $0.value == name }.keys.sorted().map { "\(tunnel) \(ServerSummary.number($0))" }
        }
    }
    /// The client's counters (by connection id) at the moment each server snapshot arrived.
    public var clientAtServerSample: [String: (up: Int, down: Int)] = [:]
    /// One line at the bottom: the last action's result or error (a write error is shown, not lost).
    public var status: (text: String, isError: Bool)?
    public var themeName = "default"
    public var now = Date()
    public var configPath: String?

    public init() {}

    public var selectedTunnel: TunnelRow? {
        visible.indices.contains(selected) ? visible[selected] : nil
    }

    /// Recomputes `visible`, keeping the same tunnel selected when the order changes.
    mutating func refreshVisible() {
        let keep = visible.indices.contains(selected) ? visible[selected].snapshot.name : nil
        let rows = filter.isEmpty ? tunnels : tunnels.filter { $0.matches(filter) }
        visible = sort.ordered(rows)
        if let keep, let index = visible.firstIndex(where: { $0.snapshot.name == keep }) { selected = index }
        clampSelection()
    }

    /// Takes new engine snapshots at monotonic `time`, keeping each tunnel's rate history.
    public mutating func update(snapshots: [TunnelSnapshot], time: Double) {
        let previous = Dictionary(tunnels.map { ($0.snapshot.name, $0) }, uniquingKeysWith: { a, _ in a })
        tunnels = snapshots.map { snapshot in
            let old = previous[snapshot.name]
            var row = old ?? TunnelRow(snapshot: snapshot)
            row.track(snapshot, previous: old?.snapshot, time: time)
            row.snapshot = snapshot
            row.up.sample(total: snapshot.bytesUp, at: time)
            row.down.sample(total: snapshot.bytesDown, at: time)
            return row
        }
    }

    /// Takes the admin streams' state and latest snapshots.
    public mutating func update(servers streams: [(name: String, state: AdminStream.State, snapshot: StatsSnapshot?)], time: Double) {
        let previous = Dictionary(servers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var arrived = false
        servers = streams.map { stream in
            var row = previous[stream.name] ?? ServerRow(name: stream.name, state: stream.state, snapshot: nil)
            // A new snapshot, or a stream that went away (its connections must not stay joined).
            if stream.snapshot?.server.uptimeSeconds != row.snapshot?.server.uptimeSeconds || stream.state != row.state { arrived = true }
            row.state = stream.state
            row.snapshot = stream.snapshot
            for route in stream.snapshot?.routes ?? [] {
                row.routeRates[route.path, default: RateMeter()].sample(total: route.bytesIn + route.bytesOut, at: time)
            }
            return row
        }
        guard arrived else { return }
        var index: [String: StatsSnapshot.Connection] = [:]
        var names: [String: String] = [:]
        for server in servers where server.state == .live {
            for connection in server.snapshot?.connections ?? [] {
                if let id = connection.clientID {
                    index[id] = connection
                    names[id] = server.name
                }
            }
        }
        serverConnections = index
        serverConnectionNames = names
        // A connection that went to server N of a tunnel and that a watched server knows links the two.
        for row in tunnels {
            for connection in row.snapshot.connections {
                guard let server = connection.server, let id = connection.clientID, let name = names[id] else { continue }
                serverLinks[row.snapshot.name, default: [:]][server] = name
            }
        }
        // The client's side of each joined connection, now: in-flight bytes compare these.
        var samples: [String: (up: Int, down: Int)] = [:]
        if !index.isEmpty {
            for row in tunnels {
                for connection in row.snapshot.connections {
                    if let id = connection.clientID, index[id] != nil { samples[id] = (connection.bytesUp, connection.bytesDown) }
                }
            }
        }
        clientAtServerSample = samples
    }

    /// The selected tunnel's connections, each joined with the server's view of it.
    public var joinedConnections: [JoinedConnection] {
        guard let row = selectedTunnel else { return [] }
        return JoinedConnection.join(
            row.snapshot.connections, servers: serverConnections, samples: clientAtServerSample, names: serverConnectionNames)
    }

    /// The event log lines the event filter lets through, newest last.
    public var visibleEvents: [EventLog.Entry] { log.filtered(eventFilter) }

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

    /// Scrolls the event log by `lines` (positive: older), within what there is.
    public mutating func scrollEvents(by lines: Int, pageSize: Int) {
        let count = visibleEvents.count
        eventScroll = max(0, min(eventScroll + lines, max(0, count - pageSize)))
    }

    /// Totals for the header.
    public var counts: (tunnels: Int, open: Int, active: Int) {
        (tunnels.count, tunnels.filter { $0.snapshot.state == .listening }.count, tunnels.reduce(0) { $0 + $1.snapshot.active })
    }

    /// The tunnel whose failure the footer shows: the selected one if it is failing, else the first.
    public var failingTunnel: TunnelRow? {
        if let selected = selectedTunnel, selected.isFailing { return selected }
        return tunnels.first { $0.isFailing }
    }
}
