import CGSSAPI

/// One GSSAPI security context as the initiator, with one proxy (`HTTP@<proxy host>`): each `step`
/// takes the proxy's token (none at first) and returns the next one to send. Every name, buffer and the
/// context itself are released here.
final class GSSContext {
    let mechanism: GSSMechanism
    private let credential: GSSCredential
    private let target: GSSName
    private let service: String
    private var handle: gss_ctx_id_t?
    /// The mechanism says the exchange is done (for Negotiate with mutual authentication: the proxy
    /// proved itself with its token).
    private(set) var isComplete = false
    /// Steps taken (tokens made).
    private(set) var steps = 0

    /// - Parameter service: the host-based service name, `HTTP@proxy.example`.
    init(service: String, credential: GSSCredential) throws(GSSError) {
        self.service = service
        self.credential = credential
        mechanism = credential.mechanism
        target = try GSSName(service, type: purr_gss_nt_hostbased_service())
    }

    deinit {
        guard handle != nil else { return }
        var minor: OM_uint32 = 0
        gss_delete_sec_context(&minor, &handle, nil)
    }

    /// The next token for the proxy, from its last one (nil at first). Empty when the mechanism has
    /// nothing more to send (it completed on the proxy's token).
    func step(_ input: [UInt8]?) throws(GSSError) -> [UInt8] {
        var minor: OM_uint32 = 0
        var output = gss_buffer_desc()
        defer { gss_release_buffer(&minor, &output) }
        var flags: OM_uint32 = 0
        let wanted = OM_uint32(mechanism == .negotiate ? GSS_C_MUTUAL_FLAG : 0)
        var bytes = input ?? []
        let major = bytes.withUnsafeMutableBytes { raw -> OM_uint32 in
            var token = gss_buffer_desc(length: raw.count, value: raw.baseAddress)
            return withUnsafeMutablePointer(to: &token) { tokenPointer in
                gss_init_sec_context(
                    &minor, credential.handle, &handle, target.handle, mechanism.oid, wanted, 0, nil,
                    input == nil ? nil : tokenPointer, nil, &output, &flags, nil)
            }
        }
        steps += 1
        guard purr_gss_error(major) == 0 else {
            let doing = input == nil ? "cannot make a token for \(service)" : "the token from \(service) did not verify"
            throw GSSError(doing, major: major, minor: minor, mechanism: mechanism.oid)
        }
        isComplete = (major & purr_gss_continue_needed()) == 0
        guard let value = output.value, output.length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: value, count: output.length))
    }
}
