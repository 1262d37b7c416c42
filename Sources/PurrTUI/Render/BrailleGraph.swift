/// A filled area graph in braille characters (2×4 dots per cell), as btop draws them: each cell
/// column shows two values, each bar rising from the bottom row, scaled to `peak`.
public enum BrailleGraph {
    /// Dot bits for the left and right column of a cell, from the bottom dot up.
    static let left: [UInt32] = [0x40, 0x04, 0x02, 0x01]
    static let right: [UInt32] = [0x80, 0x20, 0x10, 0x08]

    /// `rows` lines of `width` cells (top line first) for `values` (two per cell, oldest first; the
    /// last 2×width are shown, right-aligned). Zero draws nothing; anything above zero at least one dot.
    public static func render(_ values: [Double], width: Int, rows: Int, peak: Double) -> [String] {
        guard width > 0, rows > 0 else { return [] }
        let points = 2 * width
        let shown = Array(values.suffix(points))
        let padded = [Double](repeating: 0, count: points - shown.count) + shown
        let dots = rows * 4
        let heights = padded.map { value -> Int in
            guard value > 0, peak > 0 else { return 0 }
            return max(1, min(dots, Int((value / peak * Double(dots)).rounded())))
        }
        var lines: [String] = []
        lines.reserveCapacity(rows)
        for row in 0..<rows {
            // Dots below this line's bottom edge.
            let base = (rows - 1 - row) * 4
            var line = String.UnicodeScalarView()
            for cell in 0..<width {
                var bits: UInt32 = 0
                let (a, b) = (heights[2 * cell] - base, heights[2 * cell + 1] - base)
                for dot in 0..<4 {
                    if a > dot { bits |= left[dot] }
                    if b > dot { bits |= right[dot] }
                }
                line.append(bits == 0 ? " " : Unicode.Scalar(0x2800 + bits)!)
            }
            lines.append(String(line))
        }
        return lines
    }

    /// Squeezes or stretches a history (one value per second, oldest first) to `points` values covering
    /// its last `seconds`: each point is the largest value of its seconds, so short peaks stay visible.
    public static func resample(_ history: [Double], seconds: Int, points: Int) -> [Double] {
        guard points > 0, seconds > 0 else { return [] }
        let window = Array(history.suffix(seconds))
        let padded = [Double](repeating: 0, count: seconds - window.count) + window
        var result = [Double](repeating: 0, count: points)
        for point in 0..<points {
            let start = point * seconds / points
            let end = max(start + 1, (point + 1) * seconds / points)
            var peak = 0.0
            for index in start..<min(end, seconds) where padded[index] > peak { peak = padded[index] }
            result[point] = peak
        }
        return result
    }
}
