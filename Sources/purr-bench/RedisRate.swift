import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The rate workload once more with real programs, when they are installed (apt `redis-tools`,
/// `redis-server`): `redis-benchmark -k 0` (a new connection per PING) against a redis-server through
/// each path. Optional: the built-in rate workload needs neither.
enum RedisRate {
    static let benchmark = ["/usr/bin/redis-benchmark", "/usr/local/bin/redis-benchmark"]
    static let server = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]

    /// Both programs, or nil when either is missing.
    static var programs: (benchmark: String, server: String)? {
        guard let benchmark = benchmark.first(where: FileManager.default.isExecutableFile(atPath:)),
            let server = server.first(where: FileManager.default.isExecutableFile(atPath:))
        else { return nil }
        return (benchmark, server)
    }

    static func run(_ context: BenchContext) throws -> [Row] {
        guard let programs else { return [] }
        let plan = context.plan
        let port = try Listener().closedPort()
        let redis = try ChildProcess(
            programs.server, ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", "10000"],
            logPath: FileManager.default.temporaryDirectory.appendingPathComponent("purr-bench-redis-server.log").path)
        defer { redis.stop() }
        guard redis.waitForListener(port: port) else { throw BenchError("redis-server did not listen on 127.0.0.1:\(port) within 10 s") }
        let paths = try PathSet(context, target: port, label: "redis")
        defer { paths.stop() }
        // Two rounds of half the requests each, paths in turn, so a drift hits every path alike.
        let requests = max(200, Int(plan.rateSeconds * 2000))
        var seconds: [PathSet.Kind: Double] = [:]
        for _ in 0..<2 {
            for path in paths.paths {
                let rate = try benchmark(programs.benchmark, port: path.port, clients: plan.rateClients, requests: requests / 2, plan: plan)
                seconds[path.kind, default: 0] += Double(requests / 2) / rate
            }
        }
        let figures = seconds.mapValues { Double(requests / 2 * 2) / $0 }
        return PathSet.rows(
            "rate", "redis-benchmark -k 0 -c \(plan.rateClients) -t ping_mbulk, \(requests) requests", unit: "req/s",
            figures: figures, target: "≥ 1.0× 2-hop", note: paths.note)
    }

    /// Requests per second that redis-benchmark reports for one run (bounded by the plan's loop timeout).
    private static func benchmark(_ program: String, port: Int, clients: Int, requests: Int, plan: Plan) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = [
            "-h", "127.0.0.1", "-p", "\(port)", "-k", "0", "-c", "\(clients)", "-n", "\(requests)", "-t", "ping_mbulk", "--csv",
        ]
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("purr-bench-redis-benchmark-\(getpid()).csv")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Clock.seconds() + plan.loopTimeout
        while process.isRunning && Clock.seconds() < deadline { Clock.sleep(0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw BenchError("redis-benchmark took longer than \(Int(plan.loopTimeout)) s")
        }
        process.waitUntilExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        // "PING_MBULK","14388.49",...
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("\"PING_MBULK\"") }),
            let rate = Double(line.split(separator: ",")[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))), rate > 0
        else { throw BenchError("redis-benchmark printed no PING_MBULK rate (exit \(process.terminationStatus)): \(text.prefix(200))") }
        return rate
    }

}
