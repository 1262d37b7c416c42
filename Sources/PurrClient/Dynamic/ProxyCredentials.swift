import PurrCore

/// The username and password a dynamic tunnel's local port asks for: SOCKS5's RFC 1929 method, and
/// `Proxy-Authorization: Basic` for HTTP proxy requests. Never logged.
public struct ProxyCredentials: Sendable, Equatable {
    public var user: String
    public var password: String

    /// RFC 1929 carries each in at most 255 bytes.
    public init(user: String, password: String) throws(ConfigError) {
        guard (1...255).contains(user.utf8.count), (1...255).contains(password.utf8.count) else {
            throw ConfigError("the proxy username and password must each be 1 to 255 bytes")
        }
        guard !user.contains(":"), !(user + password).unicodeScalars.contains(where: { $0.value < 32 || $0.value == 127 }) else {
            throw ConfigError("the proxy username may not hold ':', and neither may hold control characters")
        }
        self.user = user
        self.password = password
    }
}
