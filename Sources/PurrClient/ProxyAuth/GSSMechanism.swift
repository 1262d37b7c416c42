import CGSSAPI
import PurrCore

/// The GSSAPI mechanisms a proxy authenticator uses.
enum GSSMechanism {
    /// SPNEGO, limited to Kerberos: the `Negotiate` scheme as browsers and curl send it.
    case negotiate
    /// NTLMSSP through the gss-ntlmssp plugin: the `NTLM` scheme.
    case ntlm

    var oid: gss_OID { self == .negotiate ? purr_gss_spnego_mech() : purr_gss_ntlmssp_mech() }

    /// Calls `body` with a one-element OID set holding `oid` (valid only inside).
    static func withSet<Result>(_ oid: gss_OID, _ body: (gss_OID_set) throws(GSSError) -> Result) throws(GSSError) -> Result {
        var set = gss_OID_set_desc(count: 1, elements: oid)
        return try withUnsafeMutablePointer(to: &set) { (pointer) throws(GSSError) -> Result in try body(pointer) }
    }
}

/// An imported GSSAPI name, released with its owner.
final class GSSName {
    let handle: gss_name_t

    /// `text` as `type` (`GSS_C_NT_HOSTBASED_SERVICE` for "HTTP@proxy.example", `GSS_C_NT_USER_NAME`).
    init(_ text: String, type: gss_OID) throws(GSSError) {
        var minor: OM_uint32 = 0
        var name: gss_name_t?
        var bytes = Array(text.utf8) + [0]  // NUL-terminated too, for mechanisms that read a C string
        let major = bytes.withUnsafeMutableBytes { raw in
            var buffer = gss_buffer_desc(length: raw.count - 1, value: raw.baseAddress)
            return gss_import_name(&minor, &buffer, type, &name)
        }
        guard purr_gss_error(major) == 0, let name else {
            throw GSSError("cannot use the name '\(text.printableLine)'", major: major, minor: minor)
        }
        handle = name
    }

    deinit {
        var minor: OM_uint32 = 0
        var name: gss_name_t? = handle
        gss_release_name(&minor, &name)
    }
}
