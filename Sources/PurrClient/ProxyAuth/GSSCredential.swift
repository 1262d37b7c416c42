import CGSSAPI
import Foundation
import PurrCore
import Synchronization

/// Initiator credentials for one mechanism, released at deinit. Only read once acquired (a context
/// copies what it needs from them), so one may serve contexts on several threads.
final class GSSCredential: @unchecked Sendable {
    let handle: gss_cred_id_t
    let mechanism: GSSMechanism

    private init(handle: gss_cred_id_t, mechanism: GSSMechanism) {
        self.handle = handle
        self.mechanism = mechanism
    }

    deinit {
        var minor: OM_uint32 = 0
        var cred: gss_cred_id_t? = handle
        gss_release_cred(&minor, &cred)
    }

    /// The user's Kerberos ticket (the default credential cache: `kinit`, `KRB5CCNAME`) for SPNEGO, which
    /// may then use Kerberos only (with gss-ntlmssp installed it would offer NTLM too, with other credentials).
    /// Fails when there is no ticket or it has expired, in the library's words.
    static func kerberos() throws(GSSError) -> GSSCredential {
        var minor: OM_uint32 = 0
        var lifetime: OM_uint32 = 0
        // Kerberos alone first: its error names the cache and the cause ("No Kerberos credentials
        // available (default cache: ...)", "Ticket expired").
        let kerberos = try acquire(mechanism: purr_gss_krb5_mech(), lifetime: &lifetime, what: "no usable Kerberos ticket")
        var released: gss_cred_id_t? = kerberos
        gss_release_cred(&minor, &released)
        guard lifetime > 0 else {
            throw GSSError("no usable Kerberos ticket", major: purr_gss_credentials_expired(), minor: 0)
        }
        var unused: OM_uint32 = 0
        let spnego = try acquire(mechanism: purr_gss_spnego_mech(), lifetime: &unused, what: "no usable Kerberos ticket")
        let credential = GSSCredential(handle: spnego, mechanism: .negotiate)
        try GSSMechanism.withSet(purr_gss_krb5_mech()) { (set) throws(GSSError) in
            let major = gss_set_neg_mechs(&minor, spnego, set)
            guard purr_gss_error(major) == 0 else { throw GSSError("cannot limit SPNEGO to Kerberos", major: major, minor: minor) }
        }
        return credential
    }

    /// NTLM credentials from a user (`DOMAIN\user` or `user@domain`) and password (the proxy URL of a
    /// config file); nothing is written anywhere.
    static func ntlm(user: String, password: String) throws(GSSError) -> GSSCredential {
        let name = try GSSName(user, type: purr_gss_nt_user_name())
        var minor: OM_uint32 = 0
        var cred: gss_cred_id_t?
        // gss-ntlmssp reads the password as a C string: it must end with a NUL (not counted in the length).
        var secret = Array(password.utf8) + [0]
        defer { for index in secret.indices { secret[index] = 0 } }
        let major = try GSSMechanism.withSet(purr_gss_ntlmssp_mech()) { (set) throws(GSSError) -> OM_uint32 in
            secret.withUnsafeMutableBytes { raw in
                var buffer = gss_buffer_desc(length: raw.count - 1, value: raw.baseAddress)
                return gss_acquire_cred_with_password(
                    &minor, name.handle, &buffer, purr_gss_indefinite(), set, gss_cred_usage_t(GSS_C_INITIATE), &cred, nil, nil)
            }
        }
        guard purr_gss_error(major) == 0, let cred else {
            throw GSSError("cannot use the NTLM credentials for '\(user.printableLine)'", major: major, minor: minor)
        }
        return GSSCredential(handle: cred, mechanism: .ntlm)
    }

    /// NTLM credentials for `user` and `password`, acquired once per process and then shared: each
    /// acquisition costs gss-ntlmssp about 8 KiB it never gives back (measured: 600 acquisitions grew the
    /// RSS by 4.6 MiB), and every connection through an NTLM proxy needs the same ones.
    static func sharedNTLM(user: String, password: String) throws(GSSError) -> GSSCredential {
        let key = "\(user)\u{0}\(password)"
        if let cached = ntlmCache.withLock({ $0[key] }) { return cached }
        let credential = try ntlm(user: user, password: password)
        ntlmCache.withLock { cache in
            if cache.count >= 8 { cache.removeAll() }  // credentials changed many times: start over
            cache[key] = credential
        }
        return credential
    }

    /// The same for `NTLM_USER_FILE`'s credentials (the same cost per acquisition): shared until the file
    /// changes (its size or modification time) or another user is named.
    static func sharedNTLMDefault(environment: [String: String]) throws(GSSError) -> GSSCredential {
        let path = environment["NTLM_USER_FILE"] ?? ""
        var info = stat()
        let version = stat(path, &info) == 0 ? "\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)" : "missing"
        let key = "file\u{0}\(path)\u{0}\(version)\u{0}\(environment["NTLMUSER"] ?? environment["USER"] ?? "")"
        if let cached = ntlmCache.withLock({ $0[key] }) { return cached }
        let credential = try ntlmDefault()
        ntlmCache.withLock { cache in
            if cache.count >= 8 { cache.removeAll() }
            cache[key] = credential
        }
        return credential
    }

    private static let ntlmCache = Mutex<[String: GSSCredential]>([:])

    /// NTLM credentials the gss-ntlmssp plugin finds itself: `NTLM_USER_FILE` (lines of
    /// `DOMAIN:user:password`) for the user `NTLMUSER` or `USER` names.
    static func ntlmDefault() throws(GSSError) -> GSSCredential {
        var lifetime: OM_uint32 = 0
        let cred = try acquire(mechanism: purr_gss_ntlmssp_mech(), lifetime: &lifetime, what: "no NTLM credentials from NTLM_USER_FILE")
        return GSSCredential(handle: cred, mechanism: .ntlm)
    }

    private static func acquire(mechanism: gss_OID, lifetime: inout OM_uint32, what: String) throws(GSSError) -> gss_cred_id_t {
        var minor: OM_uint32 = 0
        var cred: gss_cred_id_t?
        let major = try GSSMechanism.withSet(mechanism) { (set) throws(GSSError) -> OM_uint32 in
            gss_acquire_cred(&minor, nil, purr_gss_indefinite(), set, gss_cred_usage_t(GSS_C_INITIATE), &cred, nil, &lifetime)
        }
        guard purr_gss_error(major) == 0, let cred else { throw GSSError(what, major: major, minor: minor, mechanism: mechanism) }
        return cred
    }
}
