/// What a successful reload did, for the one log line that reports it.
public struct ReloadOutcome: Sendable, Equatable {
    /// The configuration generation now in use.
    public var generation: Int
    public var routes: Int
    /// Live relays closed because their route went away (only with `drop_removed`).
    public var droppedRelays: Int
    /// The certificate file read again, when the server speaks TLS.
    public var certificate: String?
    /// Settings that were read but take effect only at the next restart (the listen address).
    public var notes: [String]
}
