import PurrClient
import PurrCore

/// The tunnel table: one row per tunnel with state, counters, rates and a sparkline.
enum TunnelTableView {
    /// `servers`: some tunnel has several servers: a SERVERS column with their health (`2/3 up ✖1`).
    static func columns(width: Int, servers: Bool = false) -> [Column] {
        let health = Column(title: "SERVERS", width: 13, priority: 85)
        return Column.fit(
            [
                Column(title: "NAME", width: 14, priority: 100, flexible: true, minimum: 10),
                Column(title: "LOCAL", width: 16, priority: 60),
                Column(title: "REMOTE", width: 18, priority: 40, flexible: true, minimum: 12),
                Column(title: "STATE", width: 11, priority: 90),
            ] + (servers ? [health] : []) + [
                Column(title: "CONN", width: 7, priority: 80, align: .right),
                Column(title: "↑ BYTES", width: 9, priority: 70, align: .right),
                Column(title: "↓ BYTES", width: 9, priority: 70, align: .right),
                Column(title: "↑ RATE", width: 9, priority: 65, align: .right),
                Column(title: "↓ RATE", width: 9, priority: 65, align: .right),
                Column(title: "ACTIVITY", width: 8, priority: 30, flexible: true, minimum: 8),
            ], width: width)
    }

    static func draw(_ model: TUIModel, into grid: inout CellGrid, rect: Rect, focused: Bool) {
        let filtered = model.filter.isEmpty ? "" : "  filter: \(model.filter)"
        grid.box(
            x: rect.x, y: rect.y, width: rect.width, height: rect.height,
            title: "Tunnels (\(model.visible.count))\(filtered)", titleRole: focused ? .focusedPaneTitle : .paneTitle)
        let inner = rect.inner
        guard inner.height > 0, inner.width > 0 else { return }
        let columns = columns(width: inner.width - 2, servers: hasSeveralServers(model))
        Column.drawHeader(columns, into: &grid, x: inner.x + 1, y: inner.y)
        for column in columns {
            guard let mark = model.sort.mark(for: column.title), let offset = Column.offset(of: column.title, in: columns) else { continue }
            // Beside the title: after it when left-aligned, in its padding before it when right-aligned.
            let start = inner.x + 1 + offset
            let x =
                column.align == .left
                ? start + min(column.title.count, column.width - 1) : start + max(0, column.width - column.title.count - 1)
            grid.put(String(mark), x: x, y: inner.y, role: .columnHeader)
        }
        let rows = model.visible
        let visibleRows = inner.height - 1
        if rows.isEmpty {
            let hint = model.filter.isEmpty ? "No tunnels yet: press a to add one." : "No tunnel matches the filter."
            grid.put(hint, x: inner.x + 1, y: inner.y + 1, role: .dim, maxWidth: inner.width - 2)
            return
        }
        for line in 0..<visibleRows {
            let index = model.scroll + line
            guard rows.indices.contains(index) else { break }
            let y = inner.y + 1 + line
            drawRow(rows[index], columns: columns, into: &grid, x: inner.x + 1, y: y)
            if index == model.selected {
                grid.restyle(x: inner.x, y: y, width: inner.width, role: .selected)
            }
        }
        if rows.count > visibleRows {
            let end = min(rows.count, model.scroll + visibleRows)
            grid.put(" \(model.scroll + 1)-\(end)/\(rows.count) ", x: rect.x + rect.width - 14, y: rect.y + rect.height - 1, role: .dim)
        }
    }

    /// Whether a SERVERS column is needed: some tunnel (filtered or not) has several servers.
    static func hasSeveralServers(_ model: TUIModel) -> Bool {
        model.tunnels.contains { $0.snapshot.config.serverCount > 1 || !$0.snapshot.servers.isEmpty }
    }

    static func drawRow(_ row: TUIModel.TunnelRow, columns: [Column], into grid: inout CellGrid, x startX: Int, y: Int) {
        let snapshot = row.snapshot
        Column.drawRow(columns, into: &grid, x: startX, y: y) { cell($0.title, row: row, width: $0.width) }
        if let offset = Column.offset(of: "STATE", in: columns) {
            grid[startX + offset, y] =
                row.isFailing ? Cell("✖", .error) : Cell(StateSymbol.symbol(snapshot.state), StateSymbol.role(snapshot.state))
        }
    }

    static func cell(_ title: String, row: TUIModel.TunnelRow, width: Int) -> (String, ThemeRole) {
        let snapshot = row.snapshot
        switch title {
        case "NAME": return (snapshot.name, .normal)
        case "LOCAL":
            // A reverse tunnel's local side is the service it publishes.
            if let target = snapshot.config.target, snapshot.config.mode == .reverse { return (target.description, .normal) }
            let local = snapshot.boundAddresses.first ?? snapshot.config.listen.description
            let extra = snapshot.boundAddresses.count > 1 ? " +\(snapshot.boundAddresses.count - 1)" : ""
            return (local + extra, .normal)
        case "REMOTE":
            // A dynamic tunnel's row says what its port speaks before the URL template.
            let mode = snapshot.config.mode
            if mode == .reverse { return (reverseRemote(snapshot, width: width), .dim) }
            // Several servers: the first, and how many more (the SERVERS column and the detail lines say which).
            let count = max(snapshot.servers.count, snapshot.config.serverCount)
            let more = count > 1 ? " +\(count - 1)" : ""
            let room = max(0, width - more.count)
            guard mode.isDynamic else { return (RemoteText.shorten(snapshot.config.url, width: room) + more, .dim) }
            let prefix = "\(mode.rawValue) "
            return (prefix + RemoteText.shorten(snapshot.config.url, width: max(0, room - prefix.count)) + more, .dim)
        case "STATE":
            if let reverse = snapshot.reverse, !row.isFailing {
                let word = reverse.stateWord
                return ("  " + word, StateSymbol.role(snapshot.state))
            }
            return ("  " + row.stateWord, row.isFailing ? .error : StateSymbol.role(snapshot.state))
        case "CONN":
            guard let counters = snapshot.reverse?.counters else {
                return ("\(snapshot.active)/\(snapshot.total)", snapshot.failed > 0 ? .warning : .normal)
            }
            // A reverse tunnel: active relays / connections served.
            return ("\(counters.active)/\(counters.served)", counters.targetFailures > 0 ? .warning : .normal)
        case "SERVERS":
            guard let text = ServerSummary.text(snapshot.servers) else {
                // Closed (no health yet): how many servers it lists.
                let count = snapshot.config.serverCount
                return (count > 1 ? "\(count) servers" : "–", .dim)
            }
            return (text, ServerSummary.role(snapshot.servers))
        case "↑ BYTES": return (Format.bytes(snapshot.bytesUp), .up)
        case "↓ BYTES": return (Format.bytes(snapshot.bytesDown), .down)
        case "↑ RATE": return (Format.rate(row.up.rate), .up)
        case "↓ RATE": return (Format.rate(row.down.rate), .down)
        case "ACTIVITY":
            let combined = zip(row.up.history, row.down.history).map { $0 + $1 }
            return (Sparkline.render(combined, width: width), .sparkline)
        default: return ("", .normal)
        }
    }

    /// `← NAME h2 URL`: a reverse tunnel's direction, the server's name for it and its held requests.
    static func reverseRemote(_ snapshot: TunnelSnapshot, width: Int) -> String {
        let config = snapshot.config
        let name = snapshot.reverse?.name ?? config.reverseName ?? String(config.url.path.split(separator: "/").last ?? "")
        let prefix = "← \(name) h\(snapshot.reverse?.counters.held ?? 0) "
        return prefix + RemoteText.shorten(snapshot.config.url, width: max(0, width - prefix.count))
    }
}

/// How a tunnel state looks: a symbol, a word and a colour.
enum StateSymbol {
    static func symbol(_ state: TunnelState) -> Unicode.Scalar {
        switch state {
        case .listening: return "●"
        case .opening: return "◐"
        case .closed: return "○"
        case .error: return "✖"
        }
    }

    static func word(_ state: TunnelState) -> String {
        switch state {
        case .listening: return "listening"
        case .opening: return "opening"
        case .closed: return "closed"
        case .error: return "error"
        }
    }

    static func role(_ state: TunnelState) -> ThemeRole {
        switch state {
        case .listening: return .listening
        case .opening: return .opening
        case .closed: return .closed
        case .error: return .error
        }
    }
}
