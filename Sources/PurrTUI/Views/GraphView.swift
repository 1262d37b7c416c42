import PurrClient

/// The selected tunnel's throughput over the last minute or ten: up on the top half, down on the
/// bottom, each scaled to its own peak, drawn in braille (two values per cell, four dots high).
enum GraphView {
    static func draw(_ model: TUIModel, into grid: inout CellGrid, rect: Rect) {
        let row = model.selectedTunnel
        let range = model.graphRange
        let other = range == .minute ? TUIModel.GraphRange.tenMinutes : .minute
        let name = row.map { ": \($0.snapshot.name)" } ?? ""
        grid.box(
            x: rect.x, y: rect.y, width: rect.width, height: rect.height, title: "Throughput\(name) · \(range.label) (r: \(other.label))",
            titleRole: .paneTitle)
        let inner = rect.inner
        guard let row, inner.height >= 2, inner.width >= 4 else { return }
        let upRows = inner.height / 2
        let halves: [(RateMeter, Int, Int, ThemeRole, String)] = [
            (row.up, inner.y, upRows, .up, "↑"),
            (row.down, inner.y + upRows, inner.height - upRows, .down, "↓"),
        ]
        for (meter, top, rows, role, arrow) in halves {
            let points = BrailleGraph.resample(meter.history, seconds: range.rawValue, points: 2 * inner.width)
            let peak = points.max() ?? 0
            let lines = BrailleGraph.render(points, width: inner.width, rows: rows, peak: peak)
            for (offset, line) in lines.enumerated() { grid.put(line, x: inner.x, y: top + offset, role: role) }
            let label = " \(arrow) \(Format.rate(meter.rate))  peak \(Format.rate(peak)) "
            grid.put(label, x: inner.x, y: top, role: role, maxWidth: inner.width)
        }
    }
}
