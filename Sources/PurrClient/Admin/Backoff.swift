/// Reconnect delays: doubling from `initial` up to `cap`, each with ±20 % jitter so that many clients
/// of one restarted server do not reconnect in lockstep.
public struct Backoff: Sendable {
    public var initial: Double
    public var cap: Double
    private var attempt = 0

    public init(initial: Double = 0.25, cap: Double = 15) {
        self.initial = initial
        self.cap = cap
    }

    /// The next delay in seconds.
    public mutating func next() -> Double {
        let base = min(cap, initial * Double(1 << min(attempt, 20)))
        attempt += 1
        return min(cap, base * Double.random(in: 0.8...1.2))
    }

    public mutating func reset() { attempt = 0 }
}
