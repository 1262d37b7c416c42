import Foundation
import PurrClient

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
        /// Servers not taking connections (down or draining): a click on SERVERS puts trouble first. Not in
        /// `s`'s cycle: the column is only there for tunnels with several servers.
        case servers = "SERVERS"

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
        let all = Column.allCases.filter { $0 != .servers }
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
        // Keys first, then indices: sorting the rows themselves would copy every row's histories.
        let order: [Int]
        if column.isNumeric {
            let keys = rows.map { Self.number($0, column) }
            order = rows.indices.sorted { a, b in
                // Largest first; ties keep the config's order, whatever the direction.
                keys[a] == keys[b] ? a < b : (keys[a] > keys[b]) != reversed
            }
        } else {
            let keys = rows.map { Self.text($0, column) }
            order = rows.indices.sorted { a, b in
                let result = keys[a].compare(keys[b], options: [.caseInsensitive, .numeric])
                return result == .orderedSame ? a < b : (result == .orderedAscending) != reversed
            }
        }
        return order.map { rows[$0] }
    }

    static func number(_ row: TUIModel.TunnelRow, _ column: Column) -> Double {
        switch column {
        case .connections: return Double(row.snapshot.active)
        case .upBytes: return Double(row.snapshot.bytesUp)
        case .downBytes: return Double(row.snapshot.bytesDown)
        case .upRate: return row.up.rate
        case .downRate: return row.down.rate
        case .servers: return Double(row.snapshot.servers.filter { $0.health != .up }.count)
        default: return 0
        }
    }

    static func text(_ row: TUIModel.TunnelRow, _ column: Column) -> String {
        switch column {
        case .name: return row.snapshot.name
        case .local: return row.snapshot.boundAddresses.first ?? ""
        case .remote: return row.snapshot.config.url.redacted
        case .state: return row.stateWord
        default: return ""
        }
    }
}
