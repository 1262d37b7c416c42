import Foundation

/// One measured figure on both paths; `ratio` is tunnel ÷ direct, measured in the same run.
struct Row: Codable, Sendable {
    var workload: String
    var metric: String
    var unit: String
    var direct: Double?
    var tunnel: Double?
    var ratio: Double?
    /// `connect` and `rate`: tunnel ÷ the bench's own two-hop relay, and ÷ nginx's two hops, same run.
    var vsRelay: Double?
    var vsNginx: Double?
    /// The goal from issue #6, when there is one.
    var target: String?
    var note: String?

    init(
        _ workload: String, _ metric: String, unit: String, direct: Double?, tunnel: Double?, target: String? = nil,
        note: String? = nil
    ) {
        self.workload = workload
        self.metric = metric
        self.unit = unit
        self.direct = direct
        self.tunnel = tunnel
        if let direct, let tunnel, direct != 0 { ratio = tunnel / direct }
        self.target = target
        self.note = note
    }
}

/// Everything a run measured, with where it ran.
struct Report: Codable, Sendable {
    var machine: String
    var mode: String
    var rows: [Row] = []
    var notes: [String] = []

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    func table() -> String {
        var lines = ["purr-bench (\(mode)) on \(machine)", ""]
        let header = ["workload", "metric", "direct", "tunnel", "ratio", "÷ 2-hop own/nginx", "target"]
        var cells = [header]
        for row in rows {
            cells.append([
                row.workload, "\(row.metric) (\(row.unit))", Self.format(row.direct), Self.format(row.tunnel),
                row.ratio.map { String(format: "%.2f×", $0) } ?? "-", Self.twoHop(row), row.target ?? "",
            ])
        }
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        for (index, line) in cells.enumerated() {
            let padded = line.enumerated().map { column, cell in
                column < 2 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) : Self.leftPad(cell, widths[column])
            }
            lines.append(padded.joined(separator: "  "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        for row in rows where row.note != nil { lines.append("\(row.workload) / \(row.metric): \(row.note!)") }
        lines += notes
        return lines.joined(separator: "\n")
    }

    private static func format(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == value.rounded() && abs(value) < 1e9 { return String(Int(value)) }
        return abs(value) >= 100 ? String(format: "%.0f", value) : String(format: "%.3g", value)
    }

    private static func twoHop(_ row: Row) -> String {
        guard row.vsRelay != nil || row.vsNginx != nil else { return "" }
        let parts = [row.vsRelay, row.vsNginx].map { $0.map { String(format: "%.2f×", $0) } ?? "-" }
        return parts.joined(separator: " / ")
    }

    private static func leftPad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
