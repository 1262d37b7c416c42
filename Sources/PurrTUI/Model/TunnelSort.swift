import Foundation

/// The tunnel table's order: a column (nil keeps the config's order) and a direction. Names and
/// addresses sort A to Z, numbers largest first; `reversed` turns either around.
public struct TunnelSort: Sendable, Equatable {
    public enum Column: String, CaseIterable, Sendable {
        case name = "NAME"
        case local = "LOCAL"
        case remote = "REMOTE"
        case state = "STATE"
        case connections = "CONN"
        case upBytes = "↑ BYTES"
        case downBytes = "↓ BYTES"
        case upRate = "↑ RATE"
        case downRate = "↓ RATE"

        var isNumeric: Bool {
            switch self {
            case .name, .local, .remote, .state: return false
            default: return true
            }
        }
    }

    public var column: Column?
    public var reversed = false

    public init(column: Column? = nil, reversed: Bool = false) {
        self.column = column
        self.reversed = reversed
    }

    /// `s`: the next column (after the last, back to the config's order).
    public mutating func cycle() {
        let all = Column.allCases
        if let column, let index = all.firstIndex(of: column) {
            self.column = index + 1 < all.count ? all[index + 1] : nil
        } else {
            column = all.first
        }
        reversed = false
    }

    /// A click on a column header: sort by it, or reverse when it already is the sort column.
    public mutating func select(_ title: String) {
        guard let picked = Column(rawValue: title) else { return }
        if picked == column {
            reversed.toggle()
        } else {
            column = picked
            reversed = false
        }
    }

    /// The header mark of `title`: ▲ ascending, ▼ descending, nil when not the sort column.
    func mark(for title: String) -> Character? {
        guard let column, column.rawValue == title else { return nil }
        let descending = column.isNumeric != reversed
        return descending ? "▼" : "▲"
    }

    func ordered(_ rows: [TUIModel.TunnelRow]) -> [TUIModel.TunnelRow] {
        guard let column else { return reversed ? rows.reversed() : rows }
        let sorted = rows.enumerated().sorted { a, b in
            let order = Self.compare(a.element, b.element, by: column)
            // Ties keep the config's order, whatever the direction.
            return order == 0 ? a.offset < b.offset : (order < 0) != reversed
        }
        return sorted.map(\.element)
    }

    /// Negative when `a` comes first in the column's natural order.
    static func compare(_ a: TUIModel.TunnelRow, _ b: TUIModel.TunnelRow, by column: Column) -> Int {
        func text(_ x: String, _ y: String) -> Int {
            let result = x.compare(y, options: [.caseInsensitive, .numeric])
            return result == .orderedAscending ? -1 : result == .orderedDescending ? 1 : 0
        }
        func number(_ x: Double, _ y: Double) -> Int { x > y ? -1 : x < y ? 1 : 0 }
        switch column {
        case .name: return text(a.snapshot.name, b.snapshot.name)
        case .local: return text(a.snapshot.boundAddresses.first ?? "", b.snapshot.boundAddresses.first ?? "")
        case .remote: return text(a.snapshot.config.url.description, b.snapshot.config.url.description)
        case .state: return text(a.stateWord, b.stateWord)
        case .connections: return number(Double(a.snapshot.active), Double(b.snapshot.active))
        case .upBytes: return number(Double(a.snapshot.bytesUp), Double(b.snapshot.bytesUp))
        case .downBytes: return number(Double(a.snapshot.bytesDown), Double(b.snapshot.bytesDown))
        case .upRate: return number(a.up.rate, b.up.rate)
        case .downRate: return number(a.down.rate, b.down.rate)
        }
    }
}
