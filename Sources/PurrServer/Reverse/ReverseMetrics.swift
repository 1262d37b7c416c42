import Synchronization

/// Prometheus lines for the `[[reverse]]` names (appended to `/metrics`): registered clients, free held
/// requests, waiting published connections, connections served and refusals by reason. Bytes are the
/// registration path's route counters.
enum ReverseMetrics {
    static func text(_ slots: [ReverseSlot]) -> String {
        guard !slots.isEmpty else { return "" }
        let counted = slots.map { ($0.name, $0.counters) }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: (ReverseSlot.Counters) -> Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (reverse, counters) in counted { out += "\(name){reverse=\"\(reverse)\"} \(value(counters))\n" }
        }
        family("purr_reverse_clients", "gauge", "Clients registered for a reverse name.") { $0.clients }
        family("purr_reverse_held_requests", "gauge", "Held registration requests free to take a connection.") { $0.held }
        family("purr_reverse_waiting", "gauge", "Published connections waiting for a held request.") { $0.waiting }
        family("purr_reverse_connections_total", "counter", "Published connections given to a held request.") { $0.connections }
        out += "# HELP purr_reverse_refusals_total Published connections refused, by reason.\n# TYPE purr_reverse_refusals_total counter\n"
        for (reverse, counters) in counted {
            for (reason, count) in counters.refusals.sorted(by: { $0.key < $1.key }) {
                out += "purr_reverse_refusals_total{reverse=\"\(reverse)\",reason=\"\(reason)\"} \(count)\n"
            }
        }
        return out
    }
}

extension StatsRegistry {
    /// The `[[reverse]]` lines of `/metrics`.
    var reverseMetrics: String { ReverseMetrics.text(reverseSlots.withLock { $0 }) }
}
