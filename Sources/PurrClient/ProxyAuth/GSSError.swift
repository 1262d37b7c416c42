import CGSSAPI
import Foundation
import PurrCore

/// A GSSAPI call that failed, in the library's own words (`gss_display_status` of the major and the
/// mechanism's minor status), behind what was being done. Never holds a token or a password.
public struct GSSError: Error, Equatable, CustomStringConvertible {
    /// What failed, for the user ("no Kerberos ticket for HTTP@proxy").
    public let description: String
    public let major: UInt32
    public let minor: UInt32

    init(_ doing: String, major: UInt32, minor: UInt32, mechanism: gss_OID? = nil) {
        self.major = major
        self.minor = minor
        let words = Self.words(major: major, minor: minor, mechanism: mechanism)
        description = words.isEmpty ? doing : "\(doing): \(words)"
    }

    /// The credentials (a ticket) are there but out of date.
    var expired: Bool { purr_gss_routine_error(major) == purr_gss_credentials_expired() }

    /// The mechanism's words when it has some (they name the cause: "Ticket expired", "No Kerberos
    /// credentials available (default cache: FILE:/tmp/krb5cc_0)"), else the major status's, as one line.
    static func words(major: UInt32, minor: UInt32, mechanism: gss_OID?) -> String {
        let minorWords = minor == 0 ? [] : display(minor, type: purr_gss_mech_code(), mechanism: mechanism).filter { !$0.isEmpty }
        let words = minorWords.isEmpty ? display(major, type: purr_gss_gss_code(), mechanism: nil) : minorWords
        var seen: Set<String> = []
        return words.filter { seen.insert($0).inserted }.joined(separator: ": ").printableLine
    }

    private static func display(_ status: UInt32, type: Int32, mechanism: gss_OID?) -> [String] {
        var messages: [String] = []
        var context: OM_uint32 = 0
        repeat {
            var minor: OM_uint32 = 0
            var buffer = gss_buffer_desc()
            let major = gss_display_status(&minor, status, type, mechanism, &context, &buffer)
            defer { gss_release_buffer(&minor, &buffer) }
            guard purr_gss_error(major) == 0, let value = buffer.value else { break }
            let text = String(decoding: UnsafeRawBufferPointer(start: value, count: buffer.length), as: UTF8.self)
            messages.append(text.trimmingCharacters(in: CharacterSet(charactersIn: " .\n")))
        } while context != 0 && messages.count < 8
        return messages
    }
}
