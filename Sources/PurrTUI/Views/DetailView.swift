import Foundation
import PurrClient

/// The selected tunnel's live connections and its last error in words.
enum DetailView {
    static func draw(_ model: TUIModel, into grid: inout CellGrid, rect: Rect, focused: Bool) {
        let row = model.selectedTunnel
        grid.box(
            x: rect.x, y: rect.y, width: rect.width, height: rect.height,
            title: row.map { "Connections: \($0.snapshot.name)" } ?? "Connections", titleRole: focused ? .focusedPaneTitle : .paneTitle)
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
        let columns = Column.fit(
            [
                Column(title: "PEER", width: 16, priority: 100, flexible: true),
                Column(title: "STATE", width: 10, priority: 90),
                Column(title: "AGE", width: 6, priority: 80, align: .right),
                Column(title: "↑", width: 9, priority: 70, align: .right),
                Column(title: "↓", width: 9, priority: 70, align: .right),
            ], width: inner.width - 2)
        Column.drawHeader(columns, into: &grid, x: inner.x + 1, y: y)
        y += 1
        if snapshot.connections.isEmpty {
            let what = snapshot.state == .listening ? "no live connections" : "tunnel is \(StateSymbol.word(snapshot.state))"
            grid.put(what, x: inner.x + 1, y: y, role: .dim, maxWidth: inner.width - 2)
            return
        }
        for connection in snapshot.connections where y < inner.y + inner.height {
            Column.drawRow(columns, into: &grid, x: inner.x + 1, y: y) { column in
                switch column.title {
                case "PEER": return (connection.peer, .normal)
                case "STATE": return ("\(connection.state)", .normal)
                case "AGE": return (Format.age(model.now.timeIntervalSince(connection.started)), .normal)
                case "↑": return (Format.bytes(connection.bytesUp), .up)
                default: return (Format.bytes(connection.bytesDown), .down)
                }
            }
            y += 1
        }
    }
}
