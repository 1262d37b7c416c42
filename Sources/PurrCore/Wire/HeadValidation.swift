import NIOHTTP1

/// The one place that says which values may go into a request head we send. Every source of a value
/// (a flag, `tunnels.toml`, the native host, the environment) checks it here and names itself in the
/// error; `UpgradeRequest.validate()` checks again when the client builds a tunnel's request, so a CR/LF
/// smuggled past a source still sends nothing.
public enum HeadValidation {
    /// Why a value may not go into a request head. Never repeats the value: it may be a secret.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String

        public init(_ description: String) {
            self.description = description
        }

        /// `where: what was wrong`, e.g. `--token: not a valid token (token68)`.
        public func located(_ source: String) -> Failure { Failure("\(source): \(description)") }
    }

    public static let notToken68 = Failure("not a valid token (token68)")

    // MARK: Predicates

    /// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, what a bearer
    /// token may be (RFC 6750).
    public static func isToken68(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: "=") { end -= 1 }
        guard end > 0 else { return false }
        return bytes[..<end].allSatisfy(isToken68Byte)
    }

    /// RFC 9110 field-name: a token (`tchar`s).
    public static func isFieldName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTChar)
    }

    /// RFC 9110 field-value as NIO's outbound validation takes it: no control byte but HTAB (so no CR, LF
    /// or NUL).
    public static func isFieldValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7f) }
    }

    /// An origin-form request target (`/path?query`) in the bytes RFC 9112/3986 allow unescaped (the set
    /// NIO's validator enforces): no space, control, non-ASCII, `"<>\^`{|}`.
    public static func isRequestTarget(_ text: String) -> Bool {
        text.hasPrefix("/") && text.utf8.allSatisfy(isTargetByte)
    }

    /// A `Host` value: a name, an IPv4 address or a bracketed IPv6 literal, and an optional port.
    public static func isHost(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { isUnreserved($0) || hostPunctuation.contains($0) }
    }

    // MARK: Checks that say why

    public static func checkToken(_ token: String) throws(Failure) {
        guard isToken68(token) else { throw notToken68 }
    }

    public static func checkField(name: String, value: String) throws(Failure) {
        guard isFieldName(name) else { throw Failure("header name '\(name.printableLine)' is not a valid HTTP header name") }
        guard isFieldValue(value) else {
            throw Failure("header '\(name)': the value has a line break, NUL or another control character")
        }
    }

    public static func checkRequestTarget(_ target: String) throws(Failure) {
        guard target.hasPrefix("/") else { throw Failure("the request path must start with '/'") }
        guard isRequestTarget(target) else {
            throw Failure("the path has a space, a control character or a character that must be percent-encoded")
        }
    }

    public static func checkHost(_ host: String) throws(Failure) {
        guard isHost(host) else { throw Failure("the host '\(host.printableLine)' has characters a host name cannot have") }
    }

    // MARK: Bytes

    private static func isAlphaNumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        isAlphaNumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "~")
    }

    private static func isToken68Byte(_ byte: UInt8) -> Bool {
        isUnreserved(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
    }

    private static let tcharPunctuation = Set("!#$%&'*+-.^_`|~".utf8)

    private static func isTChar(_ byte: UInt8) -> Bool {
        isAlphaNumeric(byte) || tcharPunctuation.contains(byte)
    }

    private static let hostPunctuation = Set(":[]%".utf8)

    private static let targetPunctuation = Set(":/?#[]@!$&'()*+,;=%".utf8)

    private static func isTargetByte(_ byte: UInt8) -> Bool {
        isUnreserved(byte) || targetPunctuation.contains(byte)
    }
}
