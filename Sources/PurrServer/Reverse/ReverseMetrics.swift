import PurrCore
import Synchronization

/// Prometheus lines for the `[[reverse]]` names (appended to `/metrics`): registered clients, free held
/// requests, waiting published connections, active relays, connections served, bytes (seen from the
/// published side: `in` towards the exposed service) and refusals by reason.
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
        family("purr_reverse_active", "gauge", "Published connections relaying now.") { $0.active }
        family("purr_reverse_connections_total", "counter", "Published connections given to a held request.") { $0.connections }
        out += "# HELP purr_reverse_bytes_total Bytes relayed for a reverse name (in: towards the exposed service).\n"
        out += "# TYPE purr_reverse_bytes_total counter\n"
        for (reverse, counters) in counted {
            out += "purr_reverse_bytes_total{reverse=\"\(reverse)\",direction=\"in\"} \(counters.bytesIn)\n"
            out += "purr_reverse_bytes_total{reverse=\"\(reverse)\",direction=\"out\"} \(counters.bytesOut)\n"
        }
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

    /// The `reverse` part of the admin JSON (`/stats` and each `event: stats`); nil without `[[reverse]]`.
    var reverseStats: [StatsSnapshot.ReverseStats]? {
        let slots = reverseSlots.withLock { $0 }
        guard !slots.isEmpty else { return nil }
        return slots.map { slot in
            let counters = slot.counters
            return StatsSnapshot.ReverseStats(
                name: slot.name, clients: counters.clients, held: counters.held, waiting: counters.waiting, active: counters.active,
                connections: counters.connections, bytesIn: counters.bytesIn, bytesOut: counters.bytesOut, refusals: counters.refusals)
        }
    }
}
