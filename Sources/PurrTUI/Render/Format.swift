import Foundation

/// Human-readable numbers: IEC sizes and rates, ages, truncation.
public enum Format {
    static let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]

    /// `0 B`, `1023 B`, `1.0 KiB`, `12.3 MiB`, `1.00 GiB` for under 10, `123 GiB` from 100.
    public static func bytes(_ count: Int) -> String {
        guard count >= 1024 else { return "\(max(0, count)) B" }
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return "\(number(value)) \(units[unit])"
    }

    /// `0 B/s`, `3.1 MiB/s`.
    public static func rate(_ bytesPerSecond: Double) -> String {
        guard bytesPerSecond.isFinite, bytesPerSecond >= 0.5 else { return "0 B/s" }
        return bytes(Int(bytesPerSecond.rounded())) + "/s"
    }

    static func number(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    /// `42s`, `3m04s`, `2h05m`, `3d04h`.
    public static func age(_ seconds: Double) -> String {
        let total = max(0, Int(seconds))
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return String(format: "%dm%02ds", total / 60, total % 60)
        case ..<86400: return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60)
        default: return String(format: "%dd%02dh", total / 86400, (total % 86400) / 3600)
        }
    }

    /// Cuts text to `width` columns, ending with `…` when anything was cut.
    public static func truncate(_ text: String, width: Int) -> String {
        guard width > 0 else { return "" }
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > width else { return text }
        var result = ""
        result.unicodeScalars.append(contentsOf: scalars.prefix(width - 1))
        return result + "…"
    }

    /// Left-aligns (pads or truncates) to exactly `width` columns.
    public static func pad(_ text: String, _ width: Int) -> String {
        let cut = truncate(text, width: width)
        return cut + String(repeating: " ", count: max(0, width - cut.unicodeScalars.count))
    }

    /// Right-aligns to exactly `width` columns.
    public static func padLeft(_ text: String, _ width: Int) -> String {
        let cut = truncate(text, width: width)
        return String(repeating: " ", count: max(0, width - cut.unicodeScalars.count)) + cut
    }

    /// A round-trip time in microseconds: `45 µs`, `12.3 ms`, `1.20 s`.
    public static func micros(_ value: Int) -> String {
        switch value {
        case ..<1000: return "\(max(0, value)) µs"
        case ..<100_000: return String(format: "%.1f ms", Double(value) / 1000)
        case ..<1_000_000: return "\(value / 1000) ms"
        default: return String(format: "%.2f s", Double(value) / 1e6)
        }
    }

    /// `HH:mm:ss` in local time (localtime_r: no formatter to build on every frame).
    public static func clock(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        return String(format: "%02d:%02d:%02d", parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}
