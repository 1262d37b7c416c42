/// Latency percentiles from raw samples (nearest rank).
struct Percentiles: Sendable {
    let p50: Double
    let p99: Double

    /// `nanos` in any order; results in microseconds.
    init(nanos: [UInt64]) {
        let sorted = nanos.sorted()
        func rank(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))
            return Double(sorted[index]) / 1000
        }
        p50 = rank(0.50)
        p99 = rank(0.99)
    }
}
