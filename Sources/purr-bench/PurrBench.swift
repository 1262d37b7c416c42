import ArgumentParser
import Foundation
import PurrCore

#if canImport(Glibc)
    import Glibc
#endif

/// `purr-bench`: the full tunnel (purr connect → purr-server → target) against a direct connection
/// to the same target, with the same load generator, in one run.
@main
struct PurrBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purr-bench",
        abstract: "Measure the tunnel against a direct TCP connection on loopback (issue #6).",
        discussion: """
            Workloads: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")) (default: all but ceiling and soak).
            Run a release build: swift run -c release purr-bench [--quick] [--json] [WORKLOAD...]
            """,
        version: PurrVersion.current
    )

    @Argument(help: "Workloads to run (default: all).")
    var workloads: [String] = []

    @Flag(name: .long, help: "Smaller sizes; finishes in under a minute.")
    var quick = false

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .long, help: "Connections held open by the scale workload (up to 8000; default 1000).")
    var connections: Int?

    @Option(name: .long, help: "Seconds the slow reader reads (default 20, --quick 6).")
    var slowSeconds: Double?

    @Option(name: .customLong("bulk-mib"), help: "Bytes of the single bulk stream, in MiB (default 2048, --quick 512).")
    var bulkMiB: Int?

    @Option(name: .long, help: "Minutes the soak workload runs (default 10; not in the default run).")
    var minutes: Double?

    @Option(name: .customLong("delay-ms"), help: "The wan workload's one-way link delay in milliseconds (default 10).")
    var delayMs: Double?

    @Option(name: .customLong("connect-count"), help: "Connections per path in the connect workload (default 2000, --quick 500).")
    var connectCount: Int?

    @Option(name: .long, help: "Client threads of the rate workload (default 16).")
    var clients: Int?

    @Option(name: .customLong("rate-seconds"), help: "Seconds each path gets in the rate workload (default 5, --quick 2).")
    var rateSeconds: Double?

    @Option(name: .long, help: "Warm pool of the tunnel under test: `pool = N` in its tunnel config (default 0: none).")
    var pool: Int?

    @Flag(name: .long, help: "connect: also through a dynamic tunnel's SOCKS5 port (purr connect --socks5), ÷ the fixed tunnel.")
    var socks5 = false

    @Option(
        name: .customLong("tunnel-log-level"), help: "--log-level of purr-server and purr (default warning; info logs every connection).")
    var tunnelLogLevel: String?

    @Option(
        name: .customLong("tunnel-threads"),
        help:
            "--threads of purr-server and purr (default: theirs, one event loop per core; 1 matches the NIO and C relays' one loop per hop)."
    )
    var tunnelThreads: Int?

    @Flag(name: .customLong("no-redis"), help: "Skip the rate workload's redis-benchmark rows even when redis-benchmark is installed.")
    var noRedis = false

    @Option(name: .long, help: "Directory holding purr-server and purr (default: next to this binary).")
    var binDir: String?

    /// `client:PORT`, `server:PORT` or `relay:PORT`: run one wire-floor hop (or own relay hop) in front
    /// of 127.0.0.1:PORT until stdin ends, to check it against the real `purr-server` or `purr connect`.
    @Option(name: .customLong("floor-hop"), help: .hidden)
    var floorHop: String?

    func validate() throws {
        for name in workloads where Workload(rawValue: name) == nil {
            throw ValidationError(
                "unknown workload '\(name)'; expected one of \(Workload.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let connections, !(1...8000).contains(connections) { throw ValidationError("--connections: 1 to 8000") }
        if let slowSeconds, !(1...1200).contains(slowSeconds) { throw ValidationError("--slow-seconds: 1 to 1200") }
        if let bulkMiB, !(1...65536).contains(bulkMiB) { throw ValidationError("--bulk-mib: 1 to 65536") }
        if let minutes, !(0.5...1440).contains(minutes) { throw ValidationError("--minutes: 0.5 to 1440") }
        if let delayMs, !(0.1...1000).contains(delayMs) { throw ValidationError("--delay-ms: 0.1 to 1000") }
        if let connectCount, !(1...1_000_000).contains(connectCount) { throw ValidationError("--connect-count: 1 to 1000000") }
        if let clients, !(1...1024).contains(clients) { throw ValidationError("--clients: 1 to 1024") }
        if let rateSeconds, !(0.1...3600).contains(rateSeconds) { throw ValidationError("--rate-seconds: 0.1 to 3600") }
        if let pool, !(0...64).contains(pool) { throw ValidationError("--pool: 0 to 64") }
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        if let tunnelLogLevel, !levels.contains(tunnelLogLevel) {
            throw ValidationError("--tunnel-log-level: '\(tunnelLogLevel)' is not one of \(levels.joined(separator: ", "))")
        }
    }

    func run() throws {
        if let floorHop { return try WireFloor.runHop(floorHop) }
        var plan = quick ? Plan.quick() : Plan()
        if let connections { plan.scaleConnections = connections }
        if let slowSeconds { plan.slowSeconds = slowSeconds }
        if let bulkMiB { plan.bulkBytes = bulkMiB * Plan.mebibyte }
        if let minutes { plan.soakMinutes = minutes }
        if let delayMs { plan.wanDelay = delayMs / 1000 }
        if let connectCount { plan.connectCount = connectCount }
        if let clients { plan.rateClients = clients }
        if let rateSeconds { plan.rateSeconds = rateSeconds }
        if let pool { plan.pool = pool }
        if let tunnelLogLevel { plan.tunnelLogLevel = tunnelLogLevel }
        if let tunnelThreads {
            guard (1...256).contains(tunnelThreads) else { throw ValidationError("--tunnel-threads: expected 1 to 256") }
            plan.tunnelThreads = tunnelThreads
        }
        plan.socks5 = socks5
        signal(SIGPIPE, SIG_IGN)
        let context = BenchContext(plan: plan, binDir: binDir ?? Self.ownDirectory())
        for tool in ["purr-server", "purr"] where !FileManager.default.isExecutableFile(atPath: "\(context.binDir)/\(tool)") {
            throw ValidationError("\(context.binDir)/\(tool) not found: build it first (swift build -c release --product \(tool))")
        }
        let selected =
            workloads.isEmpty ? Workload.allCases.filter { $0 != .ceiling && $0 != .soak } : workloads.compactMap(Workload.init(rawValue:))
        var report = Report(machine: Self.machine(), mode: quick ? "quick" : "full")
        let echo = try EchoServer()
        defer { echo.stop() }
        for workload in selected {
            if !json { FileHandle.standardError.write(Data("running \(workload.rawValue)…\n".utf8)) }
            do {
                switch workload {
                case .bulk: report.rows += try BulkWorkload.run(context)
                case .connect: report.rows += try LatencyWorkloads.connect(context, echo: echo)
                case .pingpong: report.rows += try LatencyWorkloads.pingPong(context, echo: echo)
                case .scale: report.rows += try ScaleWorkload.run(context, echo: echo)
                case .slow: report.rows += try SlowReaderWorkload.run(context)
                case .ceiling: report.rows += try CeilingWorkload.run(context)
                case .tui: report.rows += TUIRenderWorkload.run(context)
                case .websocket: report.rows += try WebSocketWorkload.run(context, echo: echo)
                case .soak: report.rows += try SoakWorkload.run(context, echo: echo)
                case .wan: report.rows += try WanWorkload.run(context, echo: echo)
                case .reverse: report.rows += try ReverseWorkload.run(context, echo: echo)
                case .failover: report.rows += try FailoverWorkload.run(context, echo: echo)
                case .rate:
                    report.rows += try RateWorkload.run(context, echo: echo)
                    if !noRedis && RedisRate.programs == nil {
                        report.notes.append("rate: no redis-benchmark rows (optional: apt-get install redis-tools redis-server)")
                    } else if !noRedis {
                        report.rows += try RedisRate.run(context)
                    }
                }
            } catch {
                report.notes.append("\(workload.rawValue): failed: \(error)")
            }
        }
        print(json ? report.json() : report.table())
    }

    /// Where this executable lives: `purr-server` and `purr` of the same build sit next to it.
    static func ownDirectory() -> String {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (path as NSString).deletingLastPathComponent
    }

    static func machine() -> String {
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu)"
    }
}
