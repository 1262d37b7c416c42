import NIOHTTP1

/// One proxy authentication exchange for one proxy connection (GSSAPI contexts are per connection).
/// Used only on the connection's event loop.
public protocol ProxyAuthenticator: AnyObject {
    /// The scheme in use, for log lines ("Basic", "Negotiate", "NTLM"); nil before one was chosen.
    var scheme: String? { get }
    /// `Proxy-Authorization` value for the first CONNECT, or nil to send none (wait for a 407).
    func initialAuthorization() throws -> String?
    /// A 407 arrived: all its `Proxy-Authenticate` values. Return the next `Proxy-Authorization` value to
    /// send in a new CONNECT on the same connection, or nil to give up (the handshake then fails as
    /// "proxy refused <scheme>: 407 <reason>"). Throw for a local failure (no ticket, bad credentials file):
    /// the error's description becomes the failure line.
    func respond(to challenges: [String]) throws -> String?
    /// The proxy accepted (2xx). Its `Proxy-Authenticate` values, if any (Negotiate mutual auth). Throw if
    /// mutual authentication fails.
    func accepted(with challenges: [String]) throws
}

/// Makes one authenticator per proxy connection.
public protocol ProxyAuthenticatorFactory: Sendable {
    func makeAuthenticator(proxyHost: String) -> any ProxyAuthenticator
}
