/// A colour as a theme file writes it, mapped to whatever palette the terminal has.
public enum ThemeColor: Sendable, Equatable {
    /// The terminal's own default colour.
    case terminalDefault
    /// A palette index 0-255 (0-15 are the named colours).
    case index(Int)
    case rgb(UInt8, UInt8, UInt8)

    static let names = [
        "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
        "bright-black", "bright-red", "bright-green", "bright-yellow", "bright-blue", "bright-magenta", "bright-cyan", "bright-white",
    ]

    /// Parses a name, `0`-`255` or `#rrggbb`; nil if it is none of these.
    public init?(parsing text: String) {
        let lower = text.lowercased()
        if lower == "default" {
            self = .terminalDefault
        } else if let index = Self.names.firstIndex(of: lower == "grey" || lower == "gray" ? "bright-black" : lower) {
            self = .index(index)
        } else if let number = Int(lower), (0...255).contains(number) {
            self = .index(number)
        } else if lower.hasPrefix("#"), lower.count == 7, let value = UInt32(lower.dropFirst(), radix: 16) {
            self = .rgb(UInt8(value >> 16), UInt8((value >> 8) & 0xff), UInt8(value & 0xff))
        } else {
            return nil
        }
    }

    /// The palette index to use on a terminal with `colors` colours; -1 is the terminal default.
    public func paletteIndex(colors: Int) -> Int {
        switch self {
        case .terminalDefault:
            return -1
        case .index(let index):
            if index < colors { return index }
            return Self.nearestBasic(Self.rgbOf(index), basic: colors >= 16 ? 16 : 8)
        case .rgb(let r, let g, let b):
            if colors >= 256 { return Self.nearest256((Int(r), Int(g), Int(b))) }
            return Self.nearestBasic((Int(r), Int(g), Int(b)), basic: colors >= 16 ? 16 : 8)
        }
    }

    /// The xterm palette's RGB for an index.
    static func rgbOf(_ index: Int) -> (Int, Int, Int) {
        let basic: [(Int, Int, Int)] = [
            (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
            (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
        ]
        if index < 16 { return basic[index] }
        if index >= 232 {
            let level = 8 + (index - 232) * 10
            return (level, level, level)
        }
        let cube = [0, 95, 135, 175, 215, 255]
        let offset = index - 16
        return (cube[offset / 36], cube[(offset / 6) % 6], cube[offset % 6])
    }

    static func distance(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Int {
        let (dr, dg, db) = (a.0 - b.0, a.1 - b.1, a.2 - b.2)
        return dr * dr + dg * dg + db * db
    }

    static func nearest256(_ rgb: (Int, Int, Int)) -> Int {
        (16..<256).min { distance(rgbOf($0), rgb) < distance(rgbOf($1), rgb) } ?? 7
    }

    static func nearestBasic(_ rgb: (Int, Int, Int), basic: Int) -> Int {
        (0..<basic).min { distance(rgbOf($0), rgb) < distance(rgbOf($1), rgb) } ?? 7
    }
}
