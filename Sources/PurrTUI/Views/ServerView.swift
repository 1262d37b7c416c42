import PurrClient
import PurrCore

/// The watched servers, from their admin streams: state, uptime, and routes with their traffic.
enum ServerView {
    static func draw(_ model: TUIModel, into grid: inout CellGrid, rect: Rect, focused: Bool) {
        grid.box(
            x: rect.x, y: rect.y, width: rect.width, height: rect.height,
            title: "Servers (\(model.servers.count))", titleRole: focused ? .focusedPaneTitle : .paneTitle)
        let inner = rect.inner
        guard inner.height > 0 else { return }
        if model.servers.isEmpty {
            grid.put(
                "No [[servers]] in the config: add one with admin_url to watch it.", x: inner.x + 1, y: inner.y, role: .dim,
                maxWidth: inner.width - 2)
            return
        }
        var y = inner.y
        let columns = Column.fit(
            [
                Column(title: "ROUTE", width: 8, priority: 100, flexible: true),
                Column(title: "TARGET", width: 16, priority: 50),
                Column(title: "ACT/TOT", width: 9, priority: 90, align: .right),
                Column(title: "IN", width: 9, priority: 70, align: .right),
                Column(title: "OUT", width: 9, priority: 70, align: .right),
                Column(title: "RATE", width: 11, priority: 80, align: .right),
            ], width: inner.width - 2)
        for server in model.servers where y < inner.y + inner.height {
            let (word, role) = describe(server.state)
            var line = "\(server.name)  "
            grid.put(line, x: inner.x + 1, y: y, role: .normal)
            grid.put("● " + word, x: inner.x + 1 + line.count, y: y, role: role, maxWidth: inner.width - line.count - 2)
            if let stats = server.snapshot {
                line = "   up \(Format.age(stats.server.uptimeSeconds))  active \(stats.totals.active)  total \(stats.totals.total)"
                let used = server.name.count + 4 + word.count
                grid.put(line, x: inner.x + 1 + used, y: y, role: .dim, maxWidth: max(0, inner.width - 2 - used))
            }
            y += 1
            guard let stats = server.snapshot, y < inner.y + inner.height else { continue }
            Column.drawHeader(columns, into: &grid, x: inner.x + 1, y: y)
            y += 1
            for route in stats.routes where y < inner.y + inner.height {
                Column.drawRow(columns, into: &grid, x: inner.x + 1, y: y) { column in
                    switch column.title {
                    case "ROUTE": return (route.path, .normal)
                    case "TARGET": return (route.target, .normal)
                    case "ACT/TOT": return ("\(route.active)/\(route.total)", .normal)
                    case "IN": return (Format.bytes(route.bytesIn), .normal)
                    case "OUT": return (Format.bytes(route.bytesOut), .normal)
                    default: return (Format.rate(server.routeRates[route.path]?.rate ?? 0), .normal)
                    }
                }
                y += 1
            }
        }
    }

    static func describe(_ state: AdminStream.State) -> (String, ThemeRole) {
        switch state {
        case .live: return ("live", .listening)
        case .connecting: return ("connecting", .opening)
        case .idle: return ("idle", .closed)
        case .unauthorized: return ("unauthorized", .error)
        case .unreachable(let reason): return ("reconnecting (\(reason))", .warning)
        }
    }
}
