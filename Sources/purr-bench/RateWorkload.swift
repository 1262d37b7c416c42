/// Connections per second when every request opens its own connection (`redis-benchmark -k 0`):
/// `rateClients` threads each connect, send a small request, read its echo and close, over and over.
/// The paths take turns in 1 s slices, so drifts of the machine's state hit them all alike.
enum RateWorkload {
    /// One path's total over its slices.
    struct Tally {
        var requests = 0
        var failures = 0
        var seconds = 0.0
        var firstFailure: String?
    }

    static func run(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let paths = try PathSet(context, target: echo.port, label: "rate")
        defer { paths.stop() }
        let plan = context.plan
        let deadline = Clock.seconds() + plan.loopTimeout
        for path in paths.paths {  // warm-up, not counted
            _ = try burst(port: path.port, plan: plan, seconds: min(0.2, plan.rateSeconds))
        }
        let slices = max(1, Int(plan.rateSeconds.rounded(.up)))
        var tallies: [PathSet.Kind: Tally] = [:]
        // CPU of what relays, per path; Purr's server and client apart, user and system apart.
        var cpu: [PathSet.Kind: Double] = [:]
        var purrCPU = [0.0, 0.0, 0.0, 0.0]
        var floorCPU = [0.0, 0.0]  // the wire floor's client hop, server hop
        let purrTimes = {
            let server = ProcStatus.cpuTimes(pid: paths.stack.server.pid)
            let client = ProcStatus.cpuTimes(pid: paths.stack.client.pid)
            return [server.user, server.system, client.user, client.system]
        }
        for _ in 0..<slices {
            for path in paths.paths {
                let before = (paths.cpuSeconds(path.kind), path.kind == .purr ? purrTimes() : [], paths.floorHopSeconds)
                let result = try burst(port: path.port, plan: plan, seconds: plan.rateSeconds / Double(slices))
                cpu[path.kind, default: 0] += paths.cpuSeconds(path.kind) - before.0
                if path.kind == .purr { purrCPU = zip(purrCPU, zip(purrTimes(), before.1)).map { $0 + $1.0 - $1.1 } }
                if path.kind == .floor { floorCPU = zip(floorCPU, zip(paths.floorHopSeconds, before.2)).map { $0 + $1.0 - $1.1 } }
                tallies[path.kind, default: Tally()].add(result)
            }
            if Clock.seconds() > deadline { throw BenchError("rate loop took longer than \(Int(plan.loopTimeout)) s") }
        }
        var notes: [String] = paths.note.map { [$0] } ?? []
        for path in paths.paths {
            let tally = tallies[path.kind] ?? Tally()
            guard tally.requests > 0 else {
                throw BenchError("rate: no request completed through \(path.kind.rawValue): \(tally.firstFailure ?? "?")")
            }
            if tally.failures > 0 {
                notes.append("\(path.kind.rawValue): \(tally.failures) failed requests (first: \(tally.firstFailure ?? "?"))")
            }
        }
        let perConnection = { (kind: PathSet.Kind, seconds: Double) in
            Int((seconds / Double(max(1, tallies[kind]?.requests ?? 1)) * 1e6).rounded())
        }
        let floorHops = "client hop \(perConnection(.floor, floorCPU[0])), server hop \(perConnection(.floor, floorCPU[1]))"
        var usage = paths.paths.filter { $0.kind != .direct && $0.kind != .purr }.map {
            "\($0.kind.rawValue) \(perConnection($0.kind, cpu[$0.kind] ?? 0))" + ($0.kind == .floor ? " (\(floorHops))" : "")
        }
        let purr = purrCPU.map { perConnection(.purr, $0) }
        usage.append(
            "purr \(perConnection(.purr, cpu[.purr] ?? 0)): server \(purr[0] + purr[1]) (user \(purr[0]), system \(purr[1])), "
                + "client \(purr[2] + purr[3]) (user \(purr[2]), system \(purr[3]))")
        notes.append("CPU per connection (µs), relaying side only: " + usage.joined(separator: "; "))
        let figures = tallies.mapValues { Double($0.requests) / $0.seconds }
        let metric = "\(plan.rateClients) clients, new connection per \(plan.rateRequestSize) B request"
        return PathSet.rows(
            "rate", metric, unit: "req/s", figures: figures, target: "≥ 1.0× 2-hop",
            note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    /// All clients on one path for `seconds`: completed requests, failures, and the time it took.
    static func burst(port: Int, plan: Plan, seconds: Double) throws -> Tally {
        let start = Clock.seconds()
        let end = start + seconds
        let size = plan.rateRequestSize
        let results = try Threads.run(plan.rateClients) { _ in
            var tally = Tally()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
            defer { buffer.deallocate() }
            while Clock.seconds() < end {
                do {
                    try request(port: port, buffer: buffer)
                    tally.requests += 1
                } catch {
                    tally.failures += 1
                    if tally.firstFailure == nil { tally.firstFailure = "\(error)" }
                }
            }
            return tally
        }
        var total = Tally()
        for result in results { total.add(result) }
        total.seconds = Clock.seconds() - start
        return total
    }

    /// Connect, send the request, read its echo whole, close.
    private static func request(port: Int, buffer: UnsafeMutableRawBufferPointer) throws {
        let socket = try Socket.connect(port: port, timeout: 5)
        defer { socket.close() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0x2a)
        try socket.sendAll(UnsafeRawBufferPointer(buffer))
        try socket.receiveExactly(into: buffer)
        guard buffer.allSatisfy({ $0 == 0x2a }) else { throw BenchError("the echo changed the request") }
    }
}

extension RateWorkload.Tally {
    mutating func add(_ other: Self) {
        requests += other.requests
        failures += other.failures
        seconds += other.seconds
        if firstFailure == nil { firstFailure = other.firstFailure }
    }
}
