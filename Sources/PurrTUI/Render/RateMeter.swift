import Foundation

/// A smoothed byte rate from a growing counter, and a one-per-second history for the sparkline.
public struct RateMeter: Sendable, Equatable {
    /// Time constant of the exponential smoothing, in seconds.
    public static let smoothing = 2.0
    /// Ten minutes of one-second samples: the graph's longer range.
    public static let historyLength = 600

    public private(set) var rate: Double = 0
    public private(set) var history: [Double] = []
    private var last: (time: Double, total: Int)?
    private var bucket: (start: Double, bytes: Int)?
    private var lastActivity = 0.0
    /// Seconds without a byte after which the rate reads 0.
    public static let quietAfter = 3.0

    public init() {}

    /// Feeds the counter's value at `time` (seconds, monotonic).
    public mutating func sample(total: Int, at time: Double) {
        defer { last = (time, total) }
        guard let last, time > last.time else { return }
        let delta = max(0, total - last.total)  // a counter that went back (reopened tunnel) restarts
        let elapsed = time - last.time
        let instant = Double(delta) / elapsed
        let weight = 1 - exp(-elapsed / Self.smoothing)
        rate += (instant - rate) * weight
        // Smoothing never quite reaches zero: a tunnel quiet for a few seconds shows 0 B/s.
        if delta > 0 { lastActivity = time }
        if time - lastActivity >= Self.quietAfter || rate < 0.5 { rate = 0 }
        var current = bucket ?? (last.time, 0)
        current.bytes += delta
        if time - current.start >= 1 {
            history.append(Double(current.bytes) / (time - current.start))
            if history.count > Self.historyLength { history.removeFirst(history.count - Self.historyLength) }
            current = (time, 0)
        }
        bucket = current
    }

    public static func == (lhs: RateMeter, rhs: RateMeter) -> Bool {
        lhs.rate == rhs.rate && lhs.history == rhs.history
    }
}
