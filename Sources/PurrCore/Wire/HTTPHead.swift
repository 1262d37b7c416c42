/// One parsed HTTP/1.x message head: the start line split in three, and the header fields in order.
public struct HTTPHead: Sendable, Equatable {
    /// Request: method, target, version. Response: version, status code, reason.
    public var startLine: (String, String, String) {
        (first, second, third)
    }
    public let first: String
    public let second: String
    public let third: String
    public let fields: [(name: String, value: String)]

    public init(first: String, second: String, third: String, fields: [(name: String, value: String)]) {
        self.first = first
        self.second = second
        self.third = third
        self.fields = fields
    }

    /// The first value of a header, by case-insensitive name.
    public func value(of name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    /// All values of a header joined by commas, as HTTP defines repeated fields.
    public func combinedValue(of name: String) -> String? {
        let lower = name.lowercased()
        let values = fields.filter { $0.name.lowercased() == lower }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Whether a comma-separated header holds a token (case-insensitive).
    public func listContains(_ name: String, token: String) -> Bool {
        guard let combined = combinedValue(of: name) else { return false }
        let wanted = token.lowercased()
        return combined.split(separator: ",").contains { $0.trimmingASCIIWhitespace().lowercased() == wanted }
    }

    public static func == (lhs: HTTPHead, rhs: HTTPHead) -> Bool {
        lhs.first == rhs.first && lhs.second == rhs.second && lhs.third == rhs.third
            && lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }
}
