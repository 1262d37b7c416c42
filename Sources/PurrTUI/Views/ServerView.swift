import PurrClient
import PurrCore

/// The watched servers, from their admin streams: state, uptime, failures, routes with their
/// traffic and failures by reason; with the focus, also each server's live connections (with the
/// client id that joins them to a client's view).
enum ServerView {
    static func routeColumns(width: Int) -> [Column] {
        Column.fit(
            [
                Column(title: "ROUTE", width: 8, priority: 100, flexible: true),
                Column(title: "TARGET", width: 16, priority: 50),
                Column(title: "ACT/TOT", width: 9, priority: 90, align: .right),
                Column(title: "IN", width: 9, priority: 70, align: .right),
                Column(title: "OUT", width: 9, priority: 70, align: .right),
                Column(title: "RATE", width: 11, priority: 80, align: .right),
                Column(title: "FAILURES", width: 12, priority: 85, flexible: true),
            ], width: width)
    }

    static func connectionColumns(width: Int) -> [Column] {
        Column.fit(
            [
                Column(title: "ID", width: 5, priority: 60, align: .right),
                Column(title: "ROUTE", width: 8, priority: 90),
                Column(title: "PEER", width: 15, priority: 70),
                // The target this connection reaches (a dynamic route's choice for it).
                Column(title: "TARGET", width: 16, priority: 75),
                Column(title: "CLIENT ID", width: 14, priority: 80, flexible: true),
                Column(title: "IN", width: 9, priority: 85, align: .right),
                Column(title: "OUT", width: 9, priority: 85, align: .right),
                Column(title: "RTT", width: 8, priority: 50, align: .right),
            ], width: width)
    }

    /// `no_route 3, unauthorized 1`, most frequent first.
    static func failures(_ counts: [String: Int]) -> String {
        counts.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }
            .map { "\(short[$0.key] ?? $0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// The admin JSON's failure reasons in short words (the column is narrow).
    static let short = [
        "bad_request": "bad req", "head_too_large": "too large", "header_timeout": "slow head", "silent_timeout": "silent",
        "unused": "unused", "not_purr": "not purr",
        "no_route": "no route", "unauthorized": "unauth", "target_unreachable": "unreach", "client_gone": "gone",
        "relay_error": "relay err", "over_limit": "limit", "shutdown": "shutdown", "forbidden_target": "forbidden",
        "bad_capture": "bad capture", "unknown_token": "bad token", "resolver_failed": "resolver", "resolver_timeout": "resolver slow",
        "resolver_refused": "resolver no", "jwt_expired": "jwt expired", "jwt_not_yet_valid": "jwt early", "jwt_bad_signature": "jwt sig",
        "jwt_wrong_audience": "jwt aud", "jwt_invalid": "jwt bad", "refused": "refused",
    ]

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
        // Lines first, then the visible window of them (the pane scrolls when focused).
        var lines: [CellGrid.Line] = []
        let routeColumns = routeColumns(width: inner.width - 2)
        let connectionColumns = connectionColumns(width: inner.width - 2)
        for server in model.servers {
            let (symbol, word, role) = describe(server)
            var parts: [(String, ThemeRole)] = [("\(server.name)  ", .normal), ("\(symbol) " + word, role)]
            if let stats = server.snapshot {
                parts.append(
                    ("  up \(Format.age(stats.server.uptimeSeconds))  conn \(stats.totals.active)/\(stats.totals.total)", .dim))
                if !stats.totals.failures.isEmpty { parts.append(("  ✖ \(failures(stats.totals.failures))", .warning)) }
            }
            // Which tunnels' servers it is (seen from their connections): `serves pair #1`.
            let links = model.links(ofWatched: server.name)
            if !links.isEmpty { parts.append(("  serves " + links.joined(separator: ", "), .dim)) }
            lines.append(.parts(parts))
            guard let stats = server.snapshot else { continue }
            lines.append(.row(routeColumns, routeColumns.map { ($0.title, .columnHeader) }))
            for route in stats.routes {
                lines.append(
                    .row(
                        routeColumns,
                        routeColumns.map { column in
                            switch column.title {
                            case "ROUTE": return (route.path, .normal)
                            case "TARGET": return (route.target, .normal)
                            case "ACT/TOT": return ("\(route.active)/\(route.total)", .normal)
                            case "IN": return (Format.bytes(route.bytesIn), .normal)
                            case "OUT": return (Format.bytes(route.bytesOut), .normal)
                            case "RATE": return (Format.rate(server.routeRates[route.path]?.rate ?? 0), .normal)
                            default: return (failures(route.failures), .warning)
                            }
                        }))
            }
            guard focused else { continue }
            lines.append(.parts([("connections (\(stats.connections.count))", .paneTitle)]))
            if !stats.connections.isEmpty { lines.append(.row(connectionColumns, connectionColumns.map { ($0.title, .columnHeader) })) }
            for connection in stats.connections {
                lines.append(
                    .row(
                        connectionColumns,
                        connectionColumns.map { column in
                            switch column.title {
                            case "ID": return ("\(connection.id)", .dim)
                            case "ROUTE": return (connection.route ?? "–", .normal)
                            case "PEER": return (connection.peer, .normal)
                            case "TARGET": return (connection.target ?? "–", connection.target == nil ? .dim : .normal)
                            case "CLIENT ID": return (connection.clientID ?? "–", connection.clientID == nil ? .dim : .normal)
                            case "IN": return (Format.bytes(connection.bytesIn), .up)
                            case "OUT": return (Format.bytes(connection.bytesOut), .down)
                            default: return (connection.tcp?.target.map { Format.micros($0.rttUs) } ?? "–", .normal)
                            }
                        }))
            }
        }
        let scroll = focused ? max(0, min(model.serverScroll, lines.count - inner.height)) : 0
        for (offset, line) in lines.dropFirst(scroll).prefix(inner.height).enumerated() {
            let y = inner.y + offset
            switch line {
            case .parts(let parts):
                var x = inner.x + 1
                for (text, role) in parts where x < inner.x + inner.width - 1 {
                    x += grid.put(text, x: x, y: y, role: role, maxWidth: inner.x + inner.width - 1 - x)
                }
            case .row(let columns, let cells):
                var index = 0
                Column.drawRow(columns, into: &grid, x: inner.x + 1, y: y) { _ in
                    defer { index += 1 }
                    return cells[index]
                }
            }
        }
    }

    /// A watched server's mark: draining (its admin JSON's `server.draining`: new upgrades get 503)
    /// and down (its admin stream unreachable) stand out from live.
    static func describe(_ server: TUIModel.ServerRow) -> (symbol: String, word: String, role: ThemeRole) {
        if case .unreachable = server.state {
            let (word, _) = describe(server.state)
            return (ServerSummary.downMark, "down, " + word, .error)
        }
        if server.state == .live, server.snapshot?.server.draining == true {
            return (ServerSummary.drainingMark, "draining (503 to new)", .warning)
        }
        let (word, role) = describe(server.state)
        return ("●", word, role)
    }

    /// The header's one word: live, draining, down, connecting...
    static func headerWord(_ server: TUIModel.ServerRow) -> String {
        if case .unreachable = server.state { return "down" }
        if server.state == .live, server.snapshot?.server.draining == true { return "draining" }
        return describe(server.state).0
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

extension CellGrid {
    /// A line of a pane built before drawing: free text parts, or a table row.
    enum Line {
        case parts([(String, ThemeRole)])
        case row([Column], [(String, ThemeRole)])
    }
}
