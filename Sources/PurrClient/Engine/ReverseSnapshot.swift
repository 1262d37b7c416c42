/// A reverse tunnel's facts while open: its held requests at the server and what they served.
public struct ReverseSnapshot: Sendable, Equatable {
    /// The server's `[[reverse]]` name.
    public var name: String
    /// Whether a held request has stayed open long enough to count as registered (and no refusal since).
    public var registered: Bool
    public var counters: ReverseExposer.Counters
    /// The server's last refusal in words (bad token, unknown name, taken).
    public var lastRefusal: String?

    public init(name: String, registered: Bool, counters: ReverseExposer.Counters, lastRefusal: String? = nil) {
        self.name = name
        self.registered = registered
        self.counters = counters
        self.lastRefusal = lastRefusal
    }

    /// The tunnel's state in one word, where a forward tunnel says `listening`: `exposed` (registered),
    /// `refused` (the server's last answer was a refusal, not registered since) or `registering`.
    public var stateWord: String {
        if registered { return "exposed" }
        return lastRefusal == nil ? "registering" : "refused"
    }

    /// `registering`, `exposed`, or `failed: why` (refused, not registered since).
    public var phase: String {
        if registered { return "exposed" }
        if let lastRefusal { return "failed: \(lastRefusal)" }
        return "registering"
    }
}
