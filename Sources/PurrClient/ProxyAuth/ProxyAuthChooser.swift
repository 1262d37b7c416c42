import Foundation

/// Makes each proxy connection's authenticator for a tunnel's `proxy_auth`: a named scheme, or (auto)
/// the strongest one the proxy offers that the user has what it needs for: Negotiate, NTLM, Basic.
public struct ProxyAuthChooser: ProxyAuthenticatorFactory {
    public let mode: ProxyAuthMode
    public let proxy: ProxySettings
    public let status: ProxyAuthStatus
    let environment: [String: String]

    public init(
        mode: ProxyAuthMode, proxy: ProxySettings, status: ProxyAuthStatus,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.mode = mode
        self.proxy = proxy
        self.status = status
        self.environment = environment
    }

    public func makeAuthenticator(proxyHost: String) -> any ProxyAuthenticator {
        ChoosingProxyAuthenticator(chooser: self, proxyHost: proxyHost)
    }
}

/// One connection's authenticator: the chosen scheme's, picked at the first CONNECT (a named scheme) or
/// at the first 407 (auto), with the choice and the outcome told to the tunnel's status.
final class ChoosingProxyAuthenticator: ProxyAuthenticator {
    private let chooser: ProxyAuthChooser
    private let proxyHost: String
    private var chosen: (any ProxyAuthenticator)?

    init(chooser: ProxyAuthChooser, proxyHost: String) {
        self.chooser = chooser
        self.proxyHost = proxyHost
    }

    var scheme: String? { chosen?.scheme }

    func initialAuthorization() throws -> String? {
        let proxy = chooser.proxy
        let named: any ProxyAuthenticator
        switch chooser.mode {
        case .auto: return nil  // nothing before the proxy says what it takes
        case .negotiate: named = NegotiateProxyAuthenticator(proxyHost: proxyHost, preemptive: true)
        case .ntlm: named = NTLMProxyAuthenticator(proxyHost: proxyHost, user: proxy.username, password: proxy.password, preemptive: true)
        case .basic: named = BasicProxyAuthenticator(proxy: proxy)
        }
        chosen = named
        if let scheme = named.scheme { chooser.status.chose(scheme, offered: []) }
        return try reportingValue { try named.initialAuthorization() }
    }

    func respond(to challenges: [String]) throws -> String? {
        if let chosen {
            let next = try reportingValue { try chosen.respond(to: challenges) }
            if next == nil { chooser.status.settled(.failed("refused by the proxy")) }
            return next
        }
        let offers = ProxyChallenge.parse(challenges)
        let offered = ProxyChallenge.schemes(offers)
        let proxy = chooser.proxy
        var problems: [String] = []
        if offers.contains(where: { $0.isScheme("Negotiate") }) {
            let negotiate = NegotiateProxyAuthenticator(proxyHost: proxyHost)
            do {
                let first = try negotiate.start()  // fails without a usable ticket: then the next scheme
                choose(negotiate, offered: offered)
                return first
            } catch {
                problems.append(error.description)
            }
        }
        if offers.contains(where: { $0.isScheme("NTLM") }) {
            if NTLMProxyAuthenticator.hasCredentials(proxy: proxy, environment: chooser.environment) {
                let ntlm = NTLMProxyAuthenticator(proxyHost: proxyHost, user: proxy.username, password: proxy.password)
                choose(ntlm, offered: offered)
                return try reportingValue { try ntlm.start() }
            }
            problems.append(NTLMProxyAuthenticator.needs)
        }
        if offers.contains(where: { $0.isScheme("Basic") }), proxy.username != nil {
            let basic = BasicProxyAuthenticator(proxy: proxy)
            choose(basic, offered: offered)
            return try basic.initialAuthorization()
        }
        // Nothing usable. A proxy that offers only Basic to a URL without credentials: its 407 says it.
        guard !problems.isEmpty else { return nil }
        let failure = ProxyAuthFailure(
            "the proxy asks for \(offered.joined(separator: ", ")): \(problems.joined(separator: "; "))")
        chooser.status.settled(.failed(failure.description))
        throw failure
    }

    func accepted(with challenges: [String]) throws {
        guard let chosen else {
            chooser.status.settled(.open)
            return
        }
        try reporting { try chosen.accepted(with: challenges) }
        let mutual = (chosen as? NegotiateProxyAuthenticator)?.mutuallyAuthenticated ?? false
        chooser.status.settled(.accepted(mutual: mutual))
    }

    private func choose(_ authenticator: any ProxyAuthenticator, offered: [String]) {
        chosen = authenticator
        if let scheme = authenticator.scheme { chooser.status.chose(scheme, offered: offered) }
    }

    /// Runs one step; a local failure is the tunnel's state too.
    private func reportingValue(_ step: () throws -> String?) throws -> String? {
        do {
            return try step()
        } catch {
            chooser.status.settled(.failed("\(error)"))
            throw error
        }
    }

    private func reporting(_ step: () throws -> Void) throws {
        do {
            try step()
        } catch {
            chooser.status.settled(.failed("\(error)"))
            throw error
        }
    }
}

extension TunnelConfig {
    /// The factory for this tunnel's connections through `proxy` (`proxy_auth`, `--proxy-auth`).
    public func proxyAuthenticatorFactory(for proxy: ProxySettings) -> any ProxyAuthenticatorFactory {
        ProxyAuthChooser(mode: proxyAuth, proxy: proxy, status: ProxyAuthBoard.shared.status(tunnel: name, proxy: proxy))
    }
}
