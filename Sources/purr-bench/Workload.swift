/// The workloads of issue #6, by the name that selects one on the command line.
enum Workload: String, CaseIterable, Sendable {
    case bulk
    case connect
    case pingpong
    case scale
    case slow
    case tui
    /// The same tunnel as raw `purr` and as a real WebSocket (`ws://`): bulk, connect and ping-pong.
    case websocket
    /// Not in the default run: bare two-hop relays (copy and splice) as a bound for the relay.
    case ceiling
    /// Not in the default run: minutes of mixed traffic; memory and descriptors must stay flat.
    case soak
    /// Time to the first response across an emulated link (one-way delay D): direct, Purr, Purr over TLS.
    case wan
    /// Connections per second, a new connection per request (like `redis-benchmark -k 0`): direct,
    /// two-hop relays (the bench's own, nginx's) and Purr.
    case rate
    /// A reverse tunnel (`purr expose`) against a forward one on one server: first byte and bulk (issue 28).
    case reverse
    /// Several servers per tunnel (issue 26): a healthy first server's connect cost, and the time from a
    /// server's drain or death to the first connection through the next.
    case failover
}

/// What every workload gets: the plan, the targets in this process, and where the executables are.
struct BenchContext {
    let plan: Plan
    let binDir: String

    /// A fresh client + server pair for one workload, so each one's memory starts from the same place.
    func stack(target port: Int, label: String, scheme: String = "http") throws -> TunnelStack {
        try TunnelStack(
            binDir: binDir, targetPort: port, label: label, scheme: scheme, pool: plan.pool, logLevel: plan.tunnelLogLevel,
            threads: plan.tunnelThreads)
    }
}
