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
static inline OM_uint32 purr_gss_indefinite(void) { return GSS_C_INDEFINITE; }
static inline gss_cred_id_t purr_gss_no_credential(void) { return GSS_C_NO_CREDENTIAL; }
static inline gss_ctx_id_t purr_gss_no_context(void) { return GSS_C_NO_CONTEXT; }
static inline gss_name_t purr_gss_no_name(void) { return GSS_C_NO_NAME; }
static inline int purr_gss_error(OM_uint32 major) { return GSS_ERROR(major) != 0; }
static inline OM_uint32 purr_gss_routine_error(OM_uint32 major) { return GSS_ROUTINE_ERROR(major); }
static inline OM_uint32 purr_gss_supplementary(OM_uint32 major) { return GSS_SUPPLEMENTARY_INFO(major); }

#endif
