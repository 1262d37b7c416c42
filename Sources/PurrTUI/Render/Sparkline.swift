/// Recent values as a row of block characters, scaled to the largest.
public enum Sparkline {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// The last `width` values; zero is blank, anything above zero at least `▁`.
    public static func render(_ values: [Double], width: Int) -> String {
        guard width > 0 else { return "" }
        let shown = values.suffix(width)
        let peak = shown.max() ?? 0
        var text = String(repeating: " ", count: width - shown.count)
        for value in shown {
            if value <= 0 || peak <= 0 {
                text.append(" ")
            } else {
                let level = Int((value / peak * Double(levels.count - 1)).rounded())
                text.append(levels[min(levels.count - 1, max(0, level))])
            }
        }
        return text
    }
}
