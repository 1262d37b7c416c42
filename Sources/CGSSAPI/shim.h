// MIT krb5's GSSAPI for Swift (libkrb5-dev): Kerberos through SPNEGO for Negotiate, and NTLMSSP (the
// gss-ntlmssp plugin) for NTLM proxy authentication. The mechanism OIDs and name types are `extern`
// pointers in C; small functions hand them to Swift.
#ifndef PURR_CGSSAPI_SHIM_H
#define PURR_CGSSAPI_SHIM_H
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_ext.h>

static inline gss_OID purr_gss_nt_hostbased_service(void) { return GSS_C_NT_HOSTBASED_SERVICE; }
static inline gss_OID purr_gss_nt_user_name(void) { return GSS_C_NT_USER_NAME; }
static inline gss_OID purr_gss_krb5_mech(void) { return (gss_OID)gss_mech_krb5; }
/// SPNEGO (1.3.6.1.5.5.2): what browsers and curl send as Negotiate.
static inline gss_OID purr_gss_spnego_mech(void) {
    static gss_OID_desc oid = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};
    return &oid;
}
/// NTLMSSP (1.3.6.1.4.1.311.2.2.10), served by the gss-ntlmssp plugin (/etc/gss/mech.d).
static inline gss_OID purr_gss_ntlmssp_mech(void) {
    static gss_OID_desc oid = {10, (void *)"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"};
    return &oid;
}
static inline OM_uint32 purr_gss_continue_needed(void) { return GSS_S_CONTINUE_NEEDED; }
static inline OM_uint32 purr_gss_credentials_expired(void) { return GSS_S_CREDENTIALS_EXPIRED; }
static inline OM_uint32 purr_gss_no_cred(void) { return GSS_S_NO_CRED; }
static inline int purr_gss_gss_code(void) { return GSS_C_GSS_CODE; }
static inline int purr_gss_mech_code(void) { return GSS_C_MECH_CODE; }
static inline OM_uint32 purr_gss_indefinite(void) { return GSS_C_INDEFINITE; }
static inline gss_cred_id_t purr_gss_no_credential(void) { return GSS_C_NO_CREDENTIAL; }
static inline gss_ctx_id_t purr_gss_no_context(void) { return GSS_C_NO_CONTEXT; }
static inline gss_name_t purr_gss_no_name(void) { return GSS_C_NO_NAME; }
static inline int purr_gss_error(OM_uint32 major) { return GSS_ERROR(major) != 0; }
static inline OM_uint32 purr_gss_routine_error(OM_uint32 major) { return GSS_ROUTINE_ERROR(major); }
static inline OM_uint32 purr_gss_supplementary(OM_uint32 major) { return GSS_SUPPLEMENTARY_INFO(major); }

#endif
