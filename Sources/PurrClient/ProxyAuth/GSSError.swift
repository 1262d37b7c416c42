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

    /// The major status's words, then the minor's (the part that names the cause: "Ticket expired",
    /// "No Kerberos credentials available (default cache: FILE:/tmp/krb5cc_0)"), as one printable line.
    static func words(major: UInt32, minor: UInt32, mechanism: gss_OID?) -> String {
        var parts = display(major, type: purr_gss_gss_code(), mechanism: nil)
        if minor != 0 { parts += display(minor, type: purr_gss_mech_code(), mechanism: mechanism) }
        // The major's generic words ("Unspecified GSS failure.  Minor code may provide more information")
        // say nothing when a minor follows.
        let generic = "Minor code may provide more information"
        var kept = parts.filter { !$0.contains(generic) && !$0.isEmpty }
        if kept.isEmpty { kept = parts }
        var seen: Set<String> = []
        return kept.filter { seen.insert($0).inserted }.joined(separator: ": ").printableLine
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
