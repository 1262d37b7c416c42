import Foundation

extension URLComponents {
    /// The host as written in `text`, which these components were read from strictly
    /// (`encodingInvalidCharacters: false`): a name's case, punycode and an IPv6 literal's brackets kept.
    /// Not `percentEncodedHost`: Foundation decodes punycode there (`xn--bcher-kva` is `b%C3%BCcher`, nil
    /// for a label that is no valid punycode), a name no resolver takes and no browser sends.
    func hostAsWritten(in text: String) -> String? {
        rangeOfHost.map { String(text[$0]) }
    }

    /// The host as written in `text`, which these components were read from leniently (characters a URL
    /// may not hold encoded), or nil when that reading changed it. A lenient reading's ranges are of
    /// `string`, in which such characters are encoded and a Unicode host is punycode: the host is as
    /// written when `text` reads as `string` up to the host's end, or from the host's start on.
    func hostAsWritten(inLenientlyRead text: String) -> String? {
        guard let string, let range = rangeOfHost else { return nil }
        let head = string[..<range.upperBound]
        if text.hasPrefix(head), text.dropFirst(head.count).first.map({ ":/?#".contains($0) }) ?? true {
            return String(string[range])
        }
        let tail = string[range.lowerBound...]
        if text.hasSuffix(tail), let before = text.dropLast(tail.count).last, "/@".contains(before) {
            return String(string[range])
        }
        return nil
    }

    /// Whether a host as written holds only visible ASCII once its percent escapes are decoded (an escape
    /// must not hide a bad character); the finer checks are `HostPort`'s and `HeadValidation.isHost`.
    static func isVisibleASCII(host: String) -> Bool {
        (host.removingPercentEncoding ?? host).unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value != 0x7F }
    }
}
