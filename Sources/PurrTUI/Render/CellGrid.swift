/// One screen cell: a character and the role that colours it.
public struct Cell: Equatable, Sendable {
    public var scalar: Unicode.Scalar
    public var role: ThemeRole

    public init(_ scalar: Unicode.Scalar = " ", _ role: ThemeRole = .normal) {
        self.scalar = scalar
        self.role = role
    }
}

/// The whole screen as cells: views draw into it, a terminal shows it, tests read it.
/// Every character is one column wide (the TUI only draws such characters).
public struct CellGrid: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, fill: Cell = Cell()) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: fill, count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            cells[y * width + x] = newValue
        }
    }

    /// Writes text from (x, y), clipped to `maxWidth` columns and the grid; returns columns written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, role: ThemeRole, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let limit = min(maxWidth ?? width, width - x)
        var column = 0
        for scalar in text.unicodeScalars where column < limit {
            if x + column >= 0 { self[x + column, y] = Cell(scalar.value < 32 ? "?" : scalar, role) }
            column += 1
        }
        return max(0, column)
    }

    /// Paints a rectangle with one role (and blanks).
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, role: ThemeRole, scalar: Unicode.Scalar = " ") {
        for row in max(0, y)..<min(height, y + h) {
            for column in max(0, x)..<min(width, x + w) { self[column, row] = Cell(scalar, role) }
        }
    }

    /// Changes the role of a rectangle, keeping its characters (for highlighting a row).
    public mutating func restyle(x: Int, y: Int, width w: Int, role: ThemeRole) {
        guard y >= 0, y < height else { return }
        for column in max(0, x)..<min(width, x + w) { self[column, y].role = role }
    }

    /// A box border with a title in its top edge.
    public mutating func box(x: Int, y: Int, width w: Int, height h: Int, title: String, titleRole: ThemeRole) {
        guard w >= 2, h >= 2 else { return }
        for column in x + 1..<x + w - 1 {
            self[column, y] = Cell("─", .border)
            self[column, y + h - 1] = Cell("─", .border)
        }
        for row in y + 1..<y + h - 1 {
            self[x, row] = Cell("│", .border)
            self[x + w - 1, row] = Cell("│", .border)
        }
        self[x, y] = Cell("┌", .border)
        self[x + w - 1, y] = Cell("┐", .border)
        self[x, y + h - 1] = Cell("└", .border)
        self[x + w - 1, y + h - 1] = Cell("┘", .border)
        if !title.isEmpty, w > 6 {
            put(" " + Format.truncate(title, width: w - 6) + " ", x: x + 2, y: y, role: titleRole)
        }
    }

    /// One row as text (for tests and text captures).
    public func row(_ y: Int) -> String {
        var text = ""
        text.unicodeScalars.append(contentsOf: cells[(y * width)..<((y + 1) * width)].map(\.scalar))
        return text
    }

    /// The whole grid as text, rows trimmed on the right.
    public var text: String {
        (0..<height).map { index in
            var line = row(index)
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
