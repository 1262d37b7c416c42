import Foundation
import PurrCore

/// Prometheus text exposition (version 0.0.4) of a snapshot.
enum MetricsText {
    static func render(_ snapshot: StatsSnapshot, logLinesDropped: Int = LogQueue.standardError.dropped) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            let rendered = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
            out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(rendered)} \(value)\n"
        }
        family("purr_connections_active", "gauge", "Connections currently open, by route.")
        for route in snapshot.routes { sample("purr_connections_active", [("route", route.path)], "\(route.active)") }
        family("purr_connections_total", "counter", "Connections routed since start, by route.")
        for route in snapshot.routes { sample("purr_connections_total", [("route", route.path)], "\(route.total)") }
        family("purr_bytes_total", "counter", "Bytes relayed, by route and direction (in: client to target, out: target to client).")
        for route in snapshot.routes {
            sample("purr_bytes_total", [("route", route.path), ("direction", "in")], "\(route.bytesIn)")
            sample("purr_bytes_total", [("route", route.path), ("direction", "out")], "\(route.bytesOut)")
        }
        family("purr_failures_total", "counter", "Refused or failed connections, by route (empty: before routing) and reason.")
        var unrouted = snapshot.totals.failures
        for route in snapshot.routes {
            for (reason, count) in route.failures.sorted(by: { $0.key < $1.key }) {
                sample("purr_failures_total", [("route", route.path), ("reason", reason)], "\(count)")
                unrouted[reason, default: 0] -= count
            }
        }
        for (reason, count) in unrouted.sorted(by: { $0.key < $1.key }) where count > 0 {
            sample("purr_failures_total", [("route", ""), ("reason", reason)], "\(count)")
        }
        family("purr_log_lines_dropped_total", "counter", "Log lines dropped because the log output was not read fast enough.")
        sample("purr_log_lines_dropped_total", [], "\(logLinesDropped)")
        if let config = snapshot.config {
            family(
                "purr_config_reloads_total", "counter",
                "Configuration reloads (SIGHUP) by result; a failed one keeps the old configuration.")
            sample("purr_config_reloads_total", [("result", "ok")], "\(config.reloadsOk)")
            sample("purr_config_reloads_total", [("result", "failed")], "\(config.reloadsFailed)")
            family("purr_config_generation", "gauge", "Generation of the configuration in use (1 at start).")
            sample("purr_config_generation", [], "\(config.generation)")
        }
        family("purr_uptime_seconds", "gauge", "Seconds since the server started.")
        sample("purr_uptime_seconds", [], String(format: "%.3f", snapshot.server.uptimeSeconds))
        return out
    }

    static func escape(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}
