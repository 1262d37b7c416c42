import Foundation

/// This process as a client: a random id made once, the first part of every `Purr-Connection` id
/// (`<instance>/<tunnel>/<n>`), so two clients of one server never share ids.
public enum ClientInstance {
    public static let id: String = {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() & 0xffff_ffff, radix: 16).leftPadded(to: 8)
    }()

    /// The id of connection `number` of `tunnel`: characters outside [A-Za-z0-9._~-] in the tunnel's
    /// name are percent-encoded, so the id is one printable token whatever the name, and at most 150 bytes.
    public static func connectionID(tunnel: String, number: UInt64) -> String {
        // Byte checks, not Unicode properties: this runs for every connection.
        func unreserved(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                return true
            default:
                return false
            }
        }
        var name = tunnel
        if !tunnel.utf8.allSatisfy(unreserved) {
            name = ""
            for byte in tunnel.utf8 {
                if unreserved(byte) {
                    name.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    name += String(format: "%%%02X", byte)
                }
            }
        }
        // Servers keep ids of up to 200 bytes: a long non-ASCII name is cut (the number keeps ids apart).
        return "\(id)/\(name.prefix(120))/\(number)"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
