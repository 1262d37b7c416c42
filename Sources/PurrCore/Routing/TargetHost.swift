#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A target's host as the allow list sees it: an IPv4 or IPv6 address, or a host name. Anything else
/// (a zone id, a number that `getaddrinfo` would read as an address such as `2130706433` or `0x7f.1`,
/// characters no host name has) is not a host, so it can never slip past an allow list by being read
/// one way here and another way by the resolver.
public enum TargetHost: Sendable, Hashable, CustomStringConvertible {
    case ipv4([UInt8])
    case ipv6([UInt8])
    /// Lowercased, without a trailing dot.
    case name(String)

    /// The longest host name DNS allows.
    public static let maxNameLength = 253

    /// Parses an IP literal (IPv6 with or without brackets) or a host name; nil if it is neither.
    public init?(_ text: some StringProtocol) {
        var text = String(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let v4 = Self.bytes(text, family: AF_INET, count: 4) {
            self = .ipv4(v4)
        } else if text.contains(":") {
            guard let v6 = Self.bytes(text, family: AF_INET6, count: 16) else { return nil }
            // An IPv4-mapped address (::ffff:10.0.0.1) is that IPv4 address.
            if v6[0..<10].allSatisfy({ $0 == 0 }) && v6[10] == 0xff && v6[11] == 0xff {
                self = .ipv4(Array(v6[12...]))
            } else {
                self = .ipv6(v6)
            }
        } else if Self.isHostName(text) {
            self = .name(text.lowercased())
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .ipv4(let bytes): return bytes.map(String.init).joined(separator: ".")
        case .ipv6(let bytes): return Self.text(v6: bytes)
        case .name(let name): return name
        }
    }

    /// RFC 1123 labels (letters, digits, inner hyphens, 1-63 characters), at most 253 in all, and a last
    /// label that is not a number (so no spelling of an IPv4 address passes as a name).
    public static func isHostName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= maxNameLength else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            guard label.utf8.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }) else { return false }
        }
        guard let last = labels.last?.lowercased() else { return false }
        if last.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) { return false }
        if last.hasPrefix("0x"), last.dropFirst(2).allSatisfy(\.isHexDigit) { return false }
        return true
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `inet_pton`: strict dotted quads (no octal, no short forms), and RFC 4291 IPv6 text.
    private static func bytes(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count < 64 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 16)
        let ok = buffer.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return ok == 1 ? Array(buffer.prefix(count)) : nil
    }

    private static func text(v6 bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = bytes.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer { inet_ntop(AF_INET6, raw.baseAddress, $0.baseAddress, socklen_t($0.count)) }
        }
        guard written != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
