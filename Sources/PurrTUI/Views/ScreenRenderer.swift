/// Lays the views out on a grid of the terminal's size.
public enum ScreenRenderer {
    public static let minimumWidth = 60
    public static let minimumHeight = 14

    /// Rows the tunnel table can show at this size (for scrolling).
    public static func tableRows(height: Int, tunnelCount: Int) -> Int {
        tableHeight(height: height, tunnelCount: tunnelCount) - 3
    }

    static func tableHeight(height: Int, tunnelCount: Int) -> Int {
        let body = height - 2
        let wanted = tunnelCount + 3
        return max(5, min(wanted, body - max(6, body * 2 / 5)))
    }

    public static func render(_ model: TUIModel, width: Int, height: Int) -> CellGrid {
        var grid = CellGrid(width: width, height: height)
        guard width >= minimumWidth, height >= minimumHeight else {
            let lines = ["Terminal too small", "need \(minimumWidth)×\(minimumHeight), have \(width)×\(height)", "q quits"]
            for (index, line) in lines.enumerated() {
                let y = height / 2 - 1 + index
                grid.put(line, x: max(0, (width - line.count) / 2), y: y, role: index == 0 ? .warning : .normal)
            }
            return grid
        }
        HeaderView.draw(model, into: &grid, width: width)
        let tableHeight = tableHeight(height: height, tunnelCount: model.visible.count)
        TunnelTableView.draw(model, into: &grid, rect: Rect(x: 0, y: 1, width: width, height: tableHeight), focused: model.pane == .tunnels)
        let layout = ScreenLayout.compute(width: width, height: height, tunnelCount: model.visible.count)
        ConnectionsView.draw(model, into: &grid, rect: layout.connections, focused: model.pane == .connections)
        ServerView.draw(model, into: &grid, rect: layout.servers, focused: model.pane == .servers)
        if let graph = layout.graph { GraphView.draw(model, into: &grid, rect: graph) }
        if let events = layout.events { EventLogView.draw(model, into: &grid, rect: events, focused: model.pane == .events) }
        FooterView.draw(model, into: &grid, width: width, y: height - 1)
        switch model.mode {
        case .help: HelpOverlay.draw(into: &grid, width: width, height: height)
        case .form(let form): FormOverlay.draw(form, into: &grid, width: width, height: height)
        case .confirmDelete(let name): ConfirmOverlay.draw(name: name, into: &grid, width: width, height: height)
        case .normal, .filter: break
        }
        return grid
    }
}
