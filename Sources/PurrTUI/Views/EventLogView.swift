import Foundation

/// Connections opening, closing and failing, from this client and from the watched servers, newest
/// at the bottom; failures in the error style. Scrolls; `/` filters it when it has the focus.
enum EventLogView {
    static func columns(width: Int) -> [Column] {
        Column.fit(
            [
                Column(title: "TIME", width: 8, priority: 90),
                Column(title: "SIDE", width: 6, priority: 85),
                Column(title: "EVENT", width: 6, priority: 100),
                Column(title: "WHERE", width: 14, priority: 95, minimum: 9),
                // Flexible: a dynamic tunnel's connection shows `peer → target` here.
                Column(title: "PEER", width: 15, priority: 60, flexible: true),
                Column(title: "↑", width: 9, priority: 70, align: .right),
                Column(title: "↓", width: 9, priority: 70, align: .right),
                // Why a connection failed is what the log is read for: it stays longest after the event itself.
                Column(title: "REASON", width: 10, priority: 97, flexible: true),
            ], width: width)
    }

    static func draw(_ model: TUIModel, into grid: inout CellGrid, rect: Rect, focused: Bool) {
        let entries = model.visibleEvents
        var title = "Events (\(entries.count))"
        if !model.eventFilter.isEmpty { title += "  filter: \(model.eventFilter)" }
        grid.box(
            x: rect.x, y: rect.y, width: rect.width, height: rect.height, title: title, titleRole: focused ? .focusedPaneTitle : .paneTitle)
        let inner = rect.inner
        guard inner.height > 1 else { return }
        let columns = columns(width: inner.width - 2)
        Column.drawHeader(columns, into: &grid, x: inner.x + 1, y: inner.y)
        let rows = inner.height - 1
        if entries.isEmpty {
            let hint = model.eventFilter.isEmpty ? "no connection has opened or closed yet" : "no event matches the filter"
            grid.put(hint, x: inner.x + 1, y: inner.y + 1, role: .dim, maxWidth: inner.width - 2)
            return
        }
        let end = max(0, entries.count - model.eventScroll)
        let start = max(0, end - rows)
        for (line, entry) in entries[start..<end].enumerated() {
            let role: ThemeRole = entry.kind == .failed ? .error : .normal
            Column.drawRow(columns, into: &grid, x: inner.x + 1, y: inner.y + 1 + line) { column in
                switch column.title {
                case "TIME": return (Format.clock(entry.time), .dim)
                case "SIDE":
                    if case .client = entry.origin { return ("client", .dim) }
                    return ("server", .dim)
                case "EVENT": return (entry.kind.rawValue, role)
                case "WHERE": return (entry.place, .normal)
                case "PEER": return (entry.peer, .normal)
                case "↑": return (Format.bytes(entry.up), .up)
                case "↓": return (Format.bytes(entry.down), .down)
                default: return (entry.reason ?? "", role)
                }
            }
        }
        if model.eventScroll > 0 {
            grid.put(" ↓ \(model.eventScroll) newer ", x: rect.x + rect.width - 16, y: rect.y + rect.height - 1, role: .dim)
        }
    }
}
