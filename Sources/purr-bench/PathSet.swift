/// The paths to one target that `connect` and `rate` compare in one run: direct, the bench's own
/// two-hop relay, nginx's stream module over two hops (when installed), a bare swift-nio relay over
/// two hops (what the framework alone costs), the wire floor (Purr's wire protocol over two C-speed
/// hops: what the protocol alone costs) and Purr.
final class PathSet {
    enum Kind: String, CaseIterable, Sendable {
        case direct
        case relay = "own 2-hop relay"
        case nginx = "nginx 2-hop"
        case nio = "NIO 2-hop"
        case floor = "wire floor 2-hop"
        case purr
    }

    struct Path: Sendable {
        let kind: Kind
        let port: Int
    }

    private(set) var paths: [Path] = []
    /// Why a path is missing (nginx not installed).
    private(set) var notes: [String] = []
    let stack: TunnelStack
    private var relays: [EpollRelay] = []
    private var nginx: NginxStream?
    private var nioRelays: [NIORelay] = []
    private var floor: WireFloor?

    init(_ context: BenchContext, target: Int, label: String) throws {
        pool = context.plan.pool
        logLevel = context.plan.tunnelLogLevel
        threads = context.plan.tunnelThreads
        stack = try context.stack(target: target, label: label)
        paths.append(Path(kind: .direct, port: target))
        do {
            let second = try EpollRelay(next: target)
            relays.append(second)
            let first = try EpollRelay(next: second.port)
            relays.append(first)
            paths.append(Path(kind: .relay, port: first.port))
            if NginxStream.binary != nil {
                do {
                    let nginx = try NginxStream(target: target, label: label)
                    self.nginx = nginx
                    paths.append(Path(kind: .nginx, port: nginx.port))
                } catch {
                    notes.append("\(label): no nginx 2-hop path: \(error)")
                }
            } else {
                notes.append("\(label): no nginx 2-hop path: nginx is not installed (apt-get install nginx libnginx-mod-stream)")
            }
            let nioSecond = try NIORelay(next: target)
            nioRelays.append(nioSecond)
            let nioFirst = try NIORelay(next: nioSecond.port)
            nioRelays.append(nioFirst)
            paths.append(Path(kind: .nio, port: nioFirst.port))
            let floor = try WireFloor(target: target)
            self.floor = floor
            paths.append(Path(kind: .floor, port: floor.port))
        } catch {
            stop()
            throw error
        }
        paths.append(Path(kind: .purr, port: stack.port))
    }

    let pool: Int
    let logLevel: String
    let threads: Int?

    /// What the Purr row should say about this run: the warm pool, a log level other than the bench's, missing paths.
    var note: String? {
        let all =
            (pool > 0 ? ["purr with pool = \(pool)"] : []) + (logLevel != "warning" ? ["purr at --log-level \(logLevel)"] : [])
            + (threads.map { ["purr at --threads \($0)"] } ?? []) + notes
        return all.isEmpty ? nil : all.joined(separator: "; ")
    }

    /// One row per path besides direct: its figure, ÷ direct, and ÷ each two-hop relay of the run.
    /// `target` goes on the Purr row.
    static func rows(
        _ workload: String, _ metric: String, unit: String, figures: [Kind: Double], target: String? = nil, note: String? = nil
    ) -> [Row] {
        Kind.allCases.filter { $0 != .direct }.compactMap { kind in
            guard let value = figures[kind] else { return nil }
            var row = Row(
                workload, "\(metric), \(kind.rawValue)", unit: unit, direct: figures[.direct], tunnel: value,
                target: kind == .purr ? target : nil, note: kind == .purr ? note : nil)
            if kind != .relay, let relay = figures[.relay], relay != 0 { row.vsRelay = value / relay }
            if kind != .nginx, let nginx = figures[.nginx], nginx != 0 { row.vsNginx = value / nginx }
            return row
        }
    }

    /// CPU seconds used so far by what relays on a path (nothing for direct): both hops, or
    /// Purr's server and client.
    func cpuSeconds(_ kind: Kind) -> Double {
        switch kind {
        case .direct: return 0
        case .relay: return relays.map(\.cpuSeconds).reduce(0, +)
        case .nginx: return nginx?.cpuSeconds ?? 0
        case .nio: return nioRelays.map(\.cpuSeconds).reduce(0, +)
        case .floor: return floor?.cpuSeconds ?? 0
        case .purr: return stack.server.cpuSeconds + stack.client.cpuSeconds
        }
    }

    /// CPU seconds of the wire floor's client hop and server hop apart.
    var floorHopSeconds: [Double] { floor.map { [$0.clientSeconds, $0.serverSeconds] } ?? [0, 0] }

    func stop() {
        stack.stop()
        for relay in relays { relay.stop() }
        nginx?.stop()
        for relay in nioRelays { relay.stop() }
        floor?.stop()
    }
}
