import JWTKit

/// The claims a Purr token carries: the target, the expiry, and optionally a start and an audience.
/// Every claim is optional here so that a missing one is refused with its own words, by `JWTSource`.
struct JWTTargetClaims: JWTPayload {
    /// `host:port` the tunnel connects to.
    var target: String?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var aud: AudienceClaim?

    /// Checked by `JWTSource`, which knows the route's audience; this runs after the signature holds.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
