/// Byte-level mutations for the fuzz tests: what a coverage-guided fuzzer would try first (flips, cuts,
/// repeats, boundary bytes, pieces of the format from `dictionary`), stacked one to four deep.
public enum FuzzMutator {
    /// Bytes that sit on a boundary of some parser: controls, quotes, separators, the top of a range.
    static let interesting: [UInt8] = [
        0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x0a, 0x0d, 0x09, 0x20, 0x22, 0x5c, 0x3a, 0x2e, 0x7b, 0x7d, 0x5b, 0x5d,
    ]

    /// `base` changed one to four times; never longer than `limit`.
    public static func mutate(_ base: [UInt8], _ random: inout SeededRandom, dictionary: [[UInt8]] = [], limit: Int = 1 << 20)
        -> [UInt8]
    {
        var bytes = base
        for _ in 0..<(1 + random.below(4)) {
            once(&bytes, &random, dictionary: dictionary)
            if bytes.count > limit { bytes.removeLast(bytes.count - limit) }
        }
        return bytes
    }

    static func once(_ bytes: inout [UInt8], _ random: inout SeededRandom, dictionary: [[UInt8]]) {
        let at = random.below(bytes.count + 1)
        switch random.below(10) {
        case 0 where !bytes.isEmpty:
            bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
        case 1 where !bytes.isEmpty:
            bytes[random.below(bytes.count)] = interesting[random.below(interesting.count)]
        case 2:
            bytes.removeLast(bytes.count - at)  // truncated
        case 3 where !bytes.isEmpty:
            let end = min(bytes.count, at + 1 + random.below(64))
            bytes.removeSubrange(min(at, bytes.count - 1)..<end)
        case 4 where !bytes.isEmpty:
            // A slice repeated, up to tens of thousands of bytes: long fields, many lines.
            let start = random.below(bytes.count)
            let slice = Array(bytes[start..<min(bytes.count, start + 1 + random.below(32))])
            let copies = random.below(4) == 0 ? random.below(2000) : random.below(8)
            bytes.insert(contentsOf: Array(repeating: slice, count: copies).joined(), at: at)
        case 5 where !dictionary.isEmpty:
            bytes.insert(contentsOf: dictionary[random.below(dictionary.count)], at: at)
        case 6:
            bytes.insert(contentsOf: (0..<(1 + random.below(16))).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: at)
        case 7 where bytes.count > 1:
            // Two positions swapped: order matters to every parser here.
            let other = random.below(bytes.count)
            bytes.swapAt(min(at, bytes.count - 1), other)
        case 8:
            bytes.insert(interesting[random.below(interesting.count)], at: at)
        default:
            // A UTF-8 sequence cut short, an overlong form, a surrogate: text that is not text.
            let broken: [[UInt8]] = [
                [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbb, 0xbf],
            ]
            bytes.insert(contentsOf: broken[random.below(broken.count)], at: at)
        }
    }

    /// A random element.
    public static func pick<T>(_ items: [T], _ random: inout SeededRandom) -> T { items[random.below(items.count)] }

    /// Random bytes of a random length below `maximum`.
    public static func noise(_ random: inout SeededRandom, maximum: Int) -> [UInt8] {
        (0..<random.below(maximum)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    /// A short random token of letters and digits.
    public static func word(_ random: inout SeededRandom, length: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<length).map { _ in alphabet[random.below(alphabet.count)] })
    }
}
