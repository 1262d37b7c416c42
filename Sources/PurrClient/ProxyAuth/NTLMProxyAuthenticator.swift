import Foundation

/// `NTLM`: the three messages (negotiate, the proxy's challenge, authenticate) on one proxy connection,
/// made by GSSAPI's NTLMSSP mechanism (gss-ntlmssp). The credentials are the proxy URL's
/// `DOMAIN\user:password` (from a config file, never a flag), or, without them, what gss-ntlmssp finds in
/// `NTLM_USER_FILE`.
public final class NTLMProxyAuthenticator: ProxyAuthenticator {
    public let proxyHost: String
    private let user: String?
    private let password: String?
    /// Send the negotiate message with the first CONNECT (`proxy_auth = "ntlm"`).
    let preemptive: Bool
    private var context: GSSContext?

    public init(proxyHost: String, user: String?, password: String?, preemptive: Bool = false) {
        self.proxyHost = proxyHost
        self.user = user
        self.password = password
        self.preemptive = preemptive
    }

    /// Whether NTLM has credentials to use: the URL's user and password, or `NTLM_USER_FILE`.
    static func hasCredentials(proxy: ProxySettings, environment: [String: String]) -> Bool {
        (proxy.username != nil && proxy.password != nil) || !(environment["NTLM_USER_FILE"] ?? "").isEmpty
    }

    public var scheme: String? { "NTLM" }

    public func initialAuthorization() throws -> String? {
        preemptive ? try start() : nil
    }

    func start() throws(ProxyAuthFailure) -> String {
        do {
            let credential: GSSCredential
            if let user, let password {
                credential = try GSSCredential.sharedNTLM(user: user, password: password)
            } else if !(ProcessInfo.processInfo.environment["NTLM_USER_FILE"] ?? "").isEmpty {
                credential = try GSSCredential.sharedNTLMDefault(environment: ProcessInfo.processInfo.environment)
            } else {
                throw ProxyAuthFailure(Self.needs)
            }
            let context = try GSSContext(service: "HTTP@\(proxyHost)", credential: credential)
            self.context = context
            return try context.step(nil).authorization(scheme: "NTLM")
        } catch let error as ProxyAuthFailure {
            throw error
        } catch {
            throw ProxyAuthFailure("NTLM: \(error)")
        }
    }

    /// What NTLM needs, for the line that says it has nothing.
    static let needs = "NTLM needs DOMAIN\\user:password in the proxy URL of tunnels.toml, or NTLM_USER_FILE"

    public func respond(to challenges: [String]) throws -> String? {
        let offers = ProxyChallenge.parse(challenges)
        guard let offer = offers.first(where: { $0.isScheme("NTLM") }) else {
            let offered = ProxyChallenge.schemes(offers).joined(separator: ", ")
            throw ProxyAuthFailure("the proxy does not offer NTLM (it offers: \(offered.isEmpty ? "nothing" : offered))")
        }
        guard let context else { return try start() }
        // A bare `NTLM` after a message, or a challenge after the last one: refused.
        guard let token = offer.token, !context.isComplete, context.steps == 1 else { return nil }
        let challenge = NTLMChallengeRepair.repair(try [UInt8](proxyToken: token, scheme: "NTLM"))
        do {
            let authenticate = try context.step(challenge)
            return authenticate.isEmpty ? nil : authenticate.authorization(scheme: "NTLM")
        } catch {
            throw ProxyAuthFailure("NTLM: \(error.description)")
        }
    }

    public func accepted(with challenges: [String]) throws {}
}
