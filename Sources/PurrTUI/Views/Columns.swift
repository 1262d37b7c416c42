/// Table columns that fit a width: low-priority columns go first when space is short, and flexible
/// ones share what is left.
struct Column {
    enum Align { case left, right }
    var title: String
    var width: Int
    var priority: Int
    var align: Align = .left
    var flexible = false
    /// How far a flexible column may shrink before columns are dropped instead.
    var minimum: Int? = nil

    /// The columns that fit in `width` (one space between columns), with final widths.
    static func fit(_ columns: [Column], width: Int) -> [Column] {
        var kept = columns
        func needed(_ list: [Column]) -> Int { list.reduce(0) { $0 + $1.width } + max(0, list.count - 1) }
        // Narrow the flexible columns to their minimum first: a shorter URL beats a missing column.
        var shrinkable = kept.indices.filter { index in kept[index].minimum.map { kept[index].width > $0 } ?? false }
        while needed(kept) > width, !shrinkable.isEmpty {
            for index in shrinkable where needed(kept) > width { kept[index].width -= 1 }
            shrinkable = shrinkable.filter { kept[$0].width > kept[$0].minimum! }
        }
        while needed(kept) > width, let drop = kept.indices.min(by: { kept[$0].priority < kept[$1].priority }), kept.count > 1 {
            kept.remove(at: drop)
        }
        let spare = width - needed(kept)
        let flexible = kept.indices.filter { kept[$0].flexible }
        if spare > 0, !flexible.isEmpty {
            for (order, index) in flexible.enumerated() {
                kept[index].width += spare / flexible.count + (order < spare % flexible.count ? 1 : 0)
            }
        } else if spare < 0, let last = kept.indices.last {
            kept[last].width = max(1, kept[last].width + spare)
        }
        return kept
    }

    /// Draws one row from `x`: each column's text and role, aligned in its width, one space apart.
    static func drawRow(_ columns: [Column], into grid: inout CellGrid, x: Int, y: Int, cell: (Column) -> (String, ThemeRole)) {
        var left = x
        for column in columns {
            let (text, role) = cell(column)
            grid.put(column.format(text), x: left, y: y, role: role)
            left += column.width + 1
        }
    }

    /// The column titles as a header row.
    static func drawHeader(_ columns: [Column], into grid: inout CellGrid, x: Int, y: Int) {
        drawRow(columns, into: &grid, x: x, y: y) { ($0.title, .columnHeader) }
    }

    /// The column at `x` (relative to the row's start), if any.
    static func title(at x: Int, in columns: [Column]) -> String? {
        var left = 0
        for column in columns {
            if x >= left && x < left + column.width { return column.title }
            left += column.width + 1
        }
        return nil
    }

    /// Where a column starts, relative to the row's start.
    static func offset(of title: String, in columns: [Column]) -> Int? {
        guard let index = columns.firstIndex(where: { $0.title == title }) else { return nil }
        return columns[..<index].reduce(0) { $0 + $1.width + 1 }
    }

    func format(_ text: String) -> String {
        align == .left ? Format.pad(text, width) : Format.padLeft(text, width)
    }
}
