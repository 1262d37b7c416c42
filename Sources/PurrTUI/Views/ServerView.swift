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
            var x = inner.x + 1
            for column in columns {
                grid.put(column.format(column.title), x: x, y: y, role: .columnHeader)
                x += column.width + 1
            }
            y += 1
            for route in stats.routes where y < inner.y + inner.height {
                x = inner.x + 1
                for column in columns {
                    let text: String
                    switch column.title {
                    case "ROUTE": text = route.path
                    case "TARGET": text = route.target
                    case "ACT/TOT": text = "\(route.active)/\(route.total)"
                    case "IN": text = Format.bytes(route.bytesIn)
                    case "OUT": text = Format.bytes(route.bytesOut)
                    default: text = Format.rate(server.routeRates[route.path]?.rate ?? 0)
                    }
                    grid.put(column.format(text), x: x, y: y, role: .normal)
                    x += column.width + 1
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
