import Foundation

/// What asking a server to drain did: whether it was draining already, and the relays live then.
public struct DrainStart: Sendable, Equatable, Codable {
    /// Always true once asked: the server is draining now.
    public var draining: Bool
    /// The server was draining before this request (a second SIGTERM, a second `POST /drain`).
    public var already: Bool
    /// Relays live (connecting or relaying) when it was asked.
    public var relays: Int
    public var drainTimeout: Double

    public init(already: Bool, relays: Int, drainTimeout: Double) {
        self.draining = true
        self.already = already
        self.relays = relays
        self.drainTimeout = drainTimeout
    }

    /// The one line `purr-server drain` prints.
    public var line: String {
        let counted = "\(relays) relay\(relays == 1 ? "" : "s") live"
        return already
            ? "already draining: \(counted)"
            : "draining: \(counted), new upgrades get 503, exit when they end or after \(drainTimeout.formatted()) s"
    }
}
