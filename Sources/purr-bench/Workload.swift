/// The workloads of issue #6, by the name that selects one on the command line.
enum Workload: String, CaseIterable, Sendable {
    case bulk
    case connect
    case pingpong
    case scale
    case slow
    case tui
    /// Not in the default run: bare two-hop relays (copy and splice) as a bound for the relay.
    case ceiling
    /// Not in the default run: minutes of mixed traffic; memory and descriptors must stay flat.
    case soak
}

/// What every workload gets: the plan, the targets in this process, and where the executables are.
struct BenchContext {
    let plan: Plan
    let binDir: String

    /// A fresh client + server pair for one workload, so each one's memory starts from the same place.
    func stack(target port: Int, label: String) throws -> TunnelStack {
        try TunnelStack(binDir: binDir, targetPort: port, label: label)
    }
}
