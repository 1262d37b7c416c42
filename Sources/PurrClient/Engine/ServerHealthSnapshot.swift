import Foundation

/// One server of a tunnel's list, as the engine sees it now: where it stands in the list, whether new
/// connections go to it, and why not.
public struct ServerHealthSnapshot: Sendable, Equatable {
    /// How new connections are sent to this server.
    public enum Health: String, Sendable, Equatable {
        /// Taking new connections.
        case up
        /// Marked down after failures, until `retryAt` (then probed).
        case down
        /// Answered 503 (draining): skipped until it answers otherwise.
        case draining
    }

    /// Its place in the tunnel's list (0: the first).
    public var index: Int
    /// The URL with its token and query values hidden.
    public var url: String
    /// The server's host (an IPv6 address without brackets) and port, from its `ServerURL`: for labels,
    /// never read back from the redacted `url`. Empty and 0 when the URL is unknown.
    public var host: String
    public var port: Int
    public var health: Health
    /// The tunnel's connections on this server now.
    public var active: Int
    /// Connections this server took, and attempts that failed on it, since the tunnel opened.
    public var total: Int
    public var failures: Int
    /// Failures in a row (0 once a connection succeeds).
    public var consecutiveFailures: Int
    /// The last failure's words.
    public var lastError: String?
    /// A down server: when the next probe or connection may try it.
    public var retryAt: Date?
    /// Recent connect time (to the 101), seconds; nil before any.
    public var connectSeconds: Double?

    public init(
        index: Int, url: String, health: Health, active: Int = 0, total: Int = 0, failures: Int = 0, consecutiveFailures: Int = 0,
        lastError: String? = nil, retryAt: Date? = nil, connectSeconds: Double? = nil, host: String? = nil, port: Int? = nil
    ) {
        self.index = index
        self.url = url
        // Until every caller passes them: the shown URL is a `ServerURL`'s (query values hidden), read the
        // same way (a template's `{host}` is read as one).
        let server = host == nil || port == nil ? (try? ServerURL(parsing: url)) ?? (try? ServerURL(parsingTemplate: url)) : nil
        self.host = host ?? server?.host ?? ""
        self.port = port ?? server?.port ?? 0
        self.health = health
        self.active = active
        self.total = total
        self.failures = failures
        self.consecutiveFailures = consecutiveFailures
        self.lastError = lastError
        self.retryAt = retryAt
        self.connectSeconds = connectSeconds
    }
}
