import PurrCore

/// Which proxy authentication scheme a tunnel uses (`proxy_auth` in tunnels.toml, `--proxy-auth`).
public enum ProxyAuthMode: String, Sendable, Equatable, CaseIterable {
    /// The strongest scheme the proxy offers in its 407 that the user has what it needs for: Negotiate
    /// (a Kerberos ticket), then NTLM (a user and password in the proxy URL, or `NTLM_USER_FILE`),
    /// then Basic (a user and password in the proxy URL). Nothing is sent before the proxy asks.
    case auto
    /// Kerberos through SPNEGO with the user's ticket; the first token goes with the first CONNECT.
    case negotiate
    /// NTLM through gss-ntlmssp; the first message goes with the first CONNECT.
    case ntlm
    /// The proxy URL's `user:password` with the first CONNECT (Purr's behaviour before Negotiate and NTLM).
    case basic

    public init(parsing text: String) throws(ConfigError) {
        guard let mode = ProxyAuthMode(rawValue: text.lowercased()) else {
            throw ConfigError("'\(text.printableLine)' is not auto, negotiate, ntlm or basic")
        }
        self = mode
    }
}
