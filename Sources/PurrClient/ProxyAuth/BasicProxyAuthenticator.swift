/// Basic proxy authentication from the proxy URL's `user:password` (or none without them): the value goes
/// with the first CONNECT; a 407 after it is final (the same credentials would be refused again).
public final class BasicProxyAuthenticator: ProxyAuthenticator {
    private let authorization: String?

    public init(proxy: ProxySettings) {
        self.authorization = proxy.authorization
    }

    public var scheme: String? { authorization == nil ? nil : "Basic" }

    public func initialAuthorization() throws -> String? { authorization }

    public func respond(to challenges: [String]) throws -> String? { nil }

    public func accepted(with challenges: [String]) throws {}
}

/// Makes a `BasicProxyAuthenticator` from the proxy's URL: the default without a factory.
public struct BasicProxyAuthenticatorFactory: ProxyAuthenticatorFactory {
    public let proxy: ProxySettings

    public init(proxy: ProxySettings) {
        self.proxy = proxy
    }

    public func makeAuthenticator(proxyHost: String) -> any ProxyAuthenticator {
        BasicProxyAuthenticator(proxy: proxy)
    }
}
