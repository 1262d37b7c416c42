/// `Negotiate` (RFC 4559) with Kerberos through SPNEGO: a token for `HTTP@<proxy host>` from the user's
/// ticket (`kinit`; `KRB5CCNAME` names the cache), a new one for each token the proxy sends in a 407, and
/// the proxy's last token in its 2xx checked (mutual authentication). One context per proxy connection.
public final class NegotiateProxyAuthenticator: ProxyAuthenticator {
    public let proxyHost: String
    /// Send the first token with the first CONNECT instead of waiting for the 407 (`proxy_auth = "negotiate"`).
    let preemptive: Bool
    private var context: GSSContext?
    /// The proxy proved itself with a token in its 2xx.
    public private(set) var mutuallyAuthenticated = false

    public init(proxyHost: String, preemptive: Bool = false) {
        self.proxyHost = proxyHost
        self.preemptive = preemptive
    }

    public var scheme: String? { "Negotiate" }

    public func initialAuthorization() throws -> String? {
        preemptive ? try start() : nil
    }

    /// A fresh context and its first token (a Kerberos ticket for the proxy, asked of the KDC once and
    /// then kept in the cache).
    func start() throws(ProxyAuthFailure) -> String {
        do {
            let context = try GSSContext(service: "HTTP@\(proxyHost)", credential: try GSSCredential.kerberos())
            self.context = context
            return try context.step(nil).authorization(scheme: "Negotiate")
        } catch {
            throw ProxyAuthFailure(error.description)
        }
    }

    public func respond(to challenges: [String]) throws -> String? {
        let offers = ProxyChallenge.parse(challenges)
        guard let offer = offers.first(where: { $0.isScheme("Negotiate") }) else {
            let offered = ProxyChallenge.schemes(offers).joined(separator: ", ")
            throw ProxyAuthFailure("the proxy does not offer Negotiate (it offers: \(offered.isEmpty ? "nothing" : offered))")
        }
        guard let context else { return try start() }
        // A bare `Negotiate` after our token: the proxy did not take it.
        guard let token = offer.token, !context.isComplete else { return nil }
        let next = try step(context, token)
        return next.isEmpty ? nil : next.authorization(scheme: "Negotiate")
    }

    public func accepted(with challenges: [String]) throws {
        guard let context, !context.isComplete,
            let token = ProxyChallenge.parse(challenges).first(where: { $0.isScheme("Negotiate") })?.token
        else { return }  // no token in the 2xx (squid sends none for CONNECT): nothing to check
        _ = try step(context, token)
        guard context.isComplete else {
            throw ProxyAuthFailure("Negotiate: the proxy's last token did not complete mutual authentication")
        }
        mutuallyAuthenticated = true
    }

    private func step(_ context: GSSContext, _ token: String) throws(ProxyAuthFailure) -> [UInt8] {
        let bytes = try [UInt8](proxyToken: token, scheme: "Negotiate")
        do {
            return try context.step(bytes)
        } catch {
            throw ProxyAuthFailure("Negotiate: \(error.description)")
        }
    }
}
