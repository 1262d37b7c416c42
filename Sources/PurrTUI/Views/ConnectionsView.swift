import Foundation
import PurrClient
import PurrCore

/// The selected tunnel's live connections, each with the server's side of it when a watched server
/// knows it (joined by the `Purr-Connection` id): bytes at both ends, bytes in flight between them,
/// and each hop's round trip from the kernel. A slow or losing hop is drawn in the warning style.
enum ConnectionsView {
    static let unknown = "–"

    /// `dynamic`: the tunnel's connections each name their target (SOCKS5, HTTP proxy): a TARGET column.
    /// `servers`: the tunnel has several: a SERVER column says which one each connection went to.
    /// `serverWidth`: the longest server label (the column is as wide as it needs, 6 to 22).
    static func columns(width: Int, dynamic: Bool = false, servers: Bool = false, serverWidth: Int = 15) -> [Column] {
        let target = Column(title: "TARGET", width: 22, priority: 97, flexible: true, minimum: 14)
        let server = Column(title: "SERVER", width: min(22, max(6, serverWidth)), priority: 96)
        return Column.fit(
            [
                Column(title: "PEER", width: 15, priority: 100, flexible: true, minimum: 12)
            ] + (dynamic ? [target] : []) + (servers ? [server] : []) + [
                Column(title: "STATE", width: 9, priority: 95),
                Column(title: "AGE", width: 6, priority: 60, align: .right),
                Column(title: "↑ SENT", width: 9, priority: 92, align: .right),
                Column(title: "↓ RCVD", width: 9, priority: 92, align: .right),
                Column(title: "SRV IN", width: 9, priority: 80, align: .right),
                Column(title: "SRV OUT", width: 9, priority: 80, align: .right),
                Column(title: "↑ FLIGHT", width: 9, priority: 75, align: .right),
                Column(title: "↓ FLIGHT", width: 9, priority: 75, align: .right),
                Column(title: "RTT C→S", width: 8, priority: 88, align: .right),
                Column(title: "RTT S→T", width: 8, priority: 86, align: .right),
                Column(title: "RETR", width: 5, priority: 70, align: .right),
                Column(title: "UNACKED", width: 9, priority: 55, align: .right),
            ], width: width)
    }

    static func draw(_ model: TUIModel, into grid: inout CellGrid, rect: Rect, focused: Bool) {
        let row = model.selectedTunnel
        let joined = model.joinedConnections
        var title = row.map { "Connections: \($0.snapshot.name)" } ?? "Connections"
        if !joined.isEmpty {
            let known = joined.filter { $0.server != nil }.count
            title += known == joined.count ? " · both ends" : known == 0 ? " · client side only" : " · \(known)/\(joined.count) joined"
        }
        // A warm pool: how many connections to the server wait ready now.
        if let pool = row?.snapshot.pool { title += " · pool \(pool.idle)/\(pool.size) ready" }
        // TLS: how many of the handshakes so far resumed a session (skipped the certificate).
        if let snapshot = row?.snapshot, snapshot.tlsHandshakes > 0 {
            title += " · TLS \(snapshot.tlsResumed)/\(snapshot.tlsHandshakes) resumed"
        }
        // Through a proxy: which one, and how authentication to it went (Negotiate ok, NTLM failed...).
        if let snapshot = row?.snapshot, let proxy = ProxyAuthBoard.shared.line(for: snapshot.config) { title += " · \(proxy)" }
        grid.box(
            x: rect.x, y: rect.y, width: rect.width, height: rect.height, title: title, titleRole: focused ? .focusedPaneTitle : .paneTitle)
        let inner = rect.inner
        guard let row, inner.height > 0 else { return }
        var y = inner.y
        let snapshot = row.snapshot
        if let error = snapshot.lastError {
            grid.put(Format.truncate("last error: " + error, width: inner.width - 2), x: inner.x + 1, y: y, role: .error)
            y += 1
        }
        if case .error(let reason) = snapshot.state, reason != snapshot.lastError {
            grid.put(Format.truncate("error: " + reason, width: inner.width - 2), x: inner.x + 1, y: y, role: .error)
            y += 1
        }
        // Several servers: one line each (health, counts, retry, last error) above the connections.
        let details = serverDetailLines(snapshot, model: model, width: inner.width - 2, room: inner.y + inner.height - y - 2)
        for parts in details {
            var x = inner.x + 1
            for (text, role) in parts where x < inner.x + inner.width - 1 {
                x += grid.put(text, x: x, y: y, role: role, maxWidth: inner.x + inner.width - 1 - x)
            }
            y += 1
        }
        guard y < inner.y + inner.height else { return }
        let labels = ServerSummary.labels(snapshot.servers)
        let columns = columns(
            width: inner.width - 2, dynamic: snapshot.config.mode.isDynamic, servers: !snapshot.servers.isEmpty,
            serverWidth: labels.values.map(\.count).max() ?? 0)
        Column.drawHeader(columns, into: &grid, x: inner.x + 1, y: y)
        y += 1
        if joined.isEmpty {
            let what = snapshot.state == .listening ? "no live connections" : "tunnel is \(StateSymbol.word(snapshot.state))"
            grid.put(what, x: inner.x + 1, y: y, role: .dim, maxWidth: inner.width - 2)
            return
        }
        let first = firstShown(model, rows: inner.y + inner.height - y, count: joined.count)
        for (index, connection) in joined.enumerated().dropFirst(first) where y < inner.y + inner.height {
            Column.drawRow(columns, into: &grid, x: inner.x + 1, y: y) { column in
                column.title == "SERVER" ? serverCell(connection, labels: labels) : cell(column.title, connection, now: model.now)
            }
            if focused, index == model.connectionSelected { grid.restyle(x: inner.x, y: y, width: inner.width, role: .selected) }
            y += 1
        }
    }

    /// Lines above the table: the last error, and the tunnel's own error when it differs.
    static func noticeLines(_ snapshot: TunnelSnapshot) -> Int {
        var lines = snapshot.lastError == nil ? 0 : 1
        if case .error(let reason) = snapshot.state, reason != snapshot.lastError { lines += 1 }
        return lines
    }

    /// A several-server tunnel's detail lines, one per server, in at most `room` lines (the table's
    /// header and a connection keep theirs); cut short, the last line says how many more there are.
    static func serverDetailLines(_ snapshot: TunnelSnapshot, model: TUIModel, width: Int, room: Int) -> [[(String, ThemeRole)]] {
        let servers = snapshot.servers
        guard !servers.isEmpty, room > 0 else { return [] }
        // The line starts with the number already: where the short label is only that, the URL says more.
        let short = ServerSummary.labels(servers)
        var labels: [Int: String] = [:]
        for server in servers {
            let label = short[server.index] ?? ServerSummary.number(server.index)
            labels[server.index] = label.hasPrefix("#") ? ServerSummary.withoutScheme(server.url) : label
        }
        let labelWidth = min(32, servers.map { labels[$0.index]?.count ?? 0 }.max() ?? 0)
        var lines = servers.prefix(room).map { server in
            ServerSummary.detail(
                server, label: labels[server.index] ?? ServerSummary.number(server.index), labelWidth: labelWidth, now: model.now,
                watched: model.serverLinks[snapshot.name]?[server.index])
        }
        if servers.count > room {
            lines[lines.count - 1] = [("… \(servers.count - room + 1) more servers (a taller terminal shows them)", .dim)]
        }
        return lines
    }

    /// The server a connection went to: its short label from the tunnel's list, or the watched server
    /// ([[servers]]) that knows it; `–` while none answered yet.
    static func serverCell(_ joined: JoinedConnection, labels: [Int: String]) -> (String, ThemeRole) {
        if let index = joined.client.server { return (labels[index] ?? ServerSummary.number(index), .normal) }
        if let name = joined.serverName { return (name, .normal) }
        return (unknown, .dim)
    }

    /// The first connection shown: the list scrolls to keep the selected one in view.
    static func firstShown(_ model: TUIModel, rows: Int, count: Int) -> Int {
        max(0, min(model.connectionSelected - rows + 1, count - rows))
    }

    /// The connection drawn at screen line `y` of the pane at `rect`, if any (for the mouse).
    static func index(atY y: Int, rect: Rect, model: TUIModel) -> Int? {
        guard let row = model.selectedTunnel else { return nil }
        let inner = rect.inner
        let notices = noticeLines(row.snapshot)
        let details = serverDetailLines(row.snapshot, model: model, width: inner.width - 2, room: inner.height - notices - 2).count
        let top = inner.y + notices + details + 1
        let count = model.joinedConnections.count
        let index = firstShown(model, rows: inner.y + inner.height - top, count: count) + y - top
        return y >= top && index < count ? index : nil
    }

    static func cell(_ title: String, _ joined: JoinedConnection, now: Date) -> (String, ThemeRole) {
        let client = joined.client
        let server = joined.server
        switch title {
        case "PEER": return (client.peer, .normal)
        // A dynamic tunnel's connection: the target its request named (none yet while it asks).
        case "TARGET": return (client.target ?? unknown, client.target == nil ? .dim : .normal)
        case "STATE": return ("\(client.state)", .normal)
        case "AGE": return (Format.age(now.timeIntervalSince(client.started)), .normal)
        case "↑ SENT": return (Format.bytes(client.bytesUp), .up)
        case "↓ RCVD": return (Format.bytes(client.bytesDown), .down)
        case "SRV IN": return (server.map { Format.bytes($0.bytesIn) } ?? unknown, server == nil ? .dim : .up)
        case "SRV OUT": return (server.map { Format.bytes($0.bytesOut) } ?? unknown, server == nil ? .dim : .down)
        case "↑ FLIGHT": return (joined.inFlightUp.map(Format.bytes) ?? unknown, joined.clientHopSlow ? .warning : .normal)
        case "↓ FLIGHT": return (joined.inFlightDown.map(Format.bytes) ?? unknown, joined.clientHopSlow ? .warning : .normal)
        case "RTT C→S": return (joined.clientRTT.map(Format.micros) ?? unknown, joined.clientHopSlow ? .warning : .normal)
        case "RTT S→T": return (joined.targetRTT.map(Format.micros) ?? unknown, joined.targetHopSlow ? .warning : .normal)
        case "UNACKED":
            // Sent by the client's kernel towards the server, not yet acknowledged, plus what waits to be sent.
            let tcp = client.tcp
            return (tcp.map { Format.bytes($0.unackedBytes + $0.notsentBytes) } ?? unknown, .normal)
        case "RETR":
            let count = joined.retransmits
            return (count.map(String.init) ?? unknown, (count ?? 0) > 0 ? .warning : .normal)
        default: return ("", .normal)
        }
    }
}
