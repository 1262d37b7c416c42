import PurrCore

/// One parsed HTTP/1.x message head: the start line split in three, and the header fields in order.
struct HTTPHead: Sendable, Equatable {
    /// Request: method, target, version. Response: version, status code, reason.
    var startLine: (String, String, String) {
        (first, second, third)
    }
    let first: String
    let second: String
    let third: String
    let fields: [(name: String, value: String)]

    init(first: String, second: String, third: String, fields: [(name: String, value: String)]) {
        self.first = first
        self.second = second
        self.third = third
        self.fields = fields
    }

    /// The first value of a header, by case-insensitive name.
    func value(of name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    /// All values of a header joined by commas, as HTTP defines repeated fields.
    func combinedValue(of name: String) -> String? {
        let lower = name.lowercased()
        let values = fields.filter { $0.name.lowercased() == lower }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Whether a comma-separated header holds a token (case-insensitive).
    func listContains(_ name: String, token: String) -> Bool {
        guard let combined = combinedValue(of: name) else { return false }
        let wanted = token.lowercased()
        return combined.split(separator: ",").contains { $0.trimmingASCIIWhitespace().lowercased() == wanted }
    }

    static func == (lhs: HTTPHead, rhs: HTTPHead) -> Bool {
        lhs.first == rhs.first && lhs.second == rhs.second && lhs.third == rhs.third
            && lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }
}
