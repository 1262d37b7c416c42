extension Double {
    /// `String(format: "%.3f")` without Foundation's formatter, which is slow for a line per connection.
    public var threeDecimals: String {
        guard isFinite, abs(self) < 1e15 else { return "\(self)" }
        let thousandths = Int((self * 1000).rounded())
        let magnitude = thousandths.magnitude
        let fraction = magnitude % 1000
        let padding = fraction < 10 ? "00" : fraction < 100 ? "0" : ""
        return "\(thousandths < 0 ? "-" : "")\(magnitude / 1000).\(padding)\(fraction)"
    }
}
