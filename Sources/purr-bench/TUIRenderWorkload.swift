import Foundation
import PurrClient
import PurrCore
import PurrTUI

#if canImport(Glibc)
    import Glibc
#endif

/// Workload 6: purr-tui's frame loop without a terminal. 1000 tunnels whose counters move every
/// frame, refreshed into the model (rates, sparklines, the 10-minute graph history), joined with a
/// server snapshot once a second, five event log lines per frame, sorted by rate, rendered to a cell grid (table,
/// joined connections, braille graph, servers, event log) and compared with the last frame, at 10 Hz;
/// the figure is this thread's CPU time over wall time.
enum TUIRenderWorkload {
    static func run(_ context: BenchContext) -> [Row] {
        let plan = context.plan
        let url = (try? ServerURL(parsing: "http://purr.example.com:8080/bench"))!
        let health = TCPHealth(rttUs: 850, rttvarUs: 120, retransmits: 0, unacked: 3)
        var snapshots = (0..<plan.tuiTunnels).map { index in
            TunnelSnapshot(
                config: TunnelConfig(name: "tunnel-\(index)", url: url), state: index % 7 == 0 ? .closed : .listening,
                boundAddresses: ["127.0.0.1:\(20000 + index)"], active: index % 3, total: index,
                connections: (0..<index % 3).map { n in
                    ConnectionSnapshot(
                        id: UInt64(n), peer: "127.0.0.1:\(40000 + n)", state: .relaying, bytesUp: 0, bytesDown: 0, started: Date(),
                        clientID: "bench/tunnel-\(index)/\(n)", tcp: health)
                })
        }
        let served = snapshots.flatMap(\.connections).map { connection in
            StatsSnapshot.Connection(
                id: connection.id, route: "/bench", target: "127.0.0.1:22", peer: connection.peer, state: .relaying, bytesIn: 0,
                bytesOut: 0, started: Date(), reason: nil, clientID: connection.clientID, tcp: .init(client: health, target: health))
        }
        var model = TUIModel()
        var previous: CellGrid?
        let frames = Int(plan.tuiSeconds * plan.tuiRate)
        let interval = 1 / plan.tuiRate
        var drawn = 0
        let startWall = Date()
        let startCPU = threadCPUSeconds()
        var renderTime = 0.0
        for frame in 0..<frames {
            let frameStart = Date()
            for index in snapshots.indices where index % 4 == frame % 4 {
                snapshots[index].bytesUp += 1000 + index
                snapshots[index].bytesDown += 5000 + frame
            }
            model.now = frameStart
            model.update(snapshots: snapshots, time: Double(frame) * interval)
            // A tunnel with a live connection: the joined pane and the graph have work; the table is
            // sorted by rate, which reorders it on every frame.
            if frame == 0 {
                model.selected = 1
                model.sort = TunnelSort(column: .downRate)
            }
            if frame % Int(plan.tuiRate) == 0 {
                let stats = StatsSnapshot(
                    server: .init(version: "bench", uptimeSeconds: Double(frame), listen: "127.0.0.1:8080", started: frameStart),
                    totals: .init(active: served.count, total: served.count, bytesIn: 0, bytesOut: 0, failures: ["no_route": frame]),
                    routes: [
                        .init(
                            path: "/bench", target: "127.0.0.1:22", active: served.count, total: frame, bytesIn: 0, bytesOut: 0,
                            failures: [:])
                    ],
                    connections: served)
                model.update(servers: [("bench", .live, stats)], time: Double(frame) * interval)
            }
            for n in 0..<5 {
                model.log.append(
                    .init(
                        time: frameStart, origin: n % 2 == 0 ? .client(tunnel: "tunnel-\(n)") : .server(name: "bench", route: "/bench"),
                        kind: n == 4 ? .failed : .closed, peer: "127.0.0.1:\(40000 + frame)", up: frame, down: frame * 2,
                        reason: n == 4 ? "502 connection refused to 127.0.0.1:22" : "closed"))
            }
            model.scrollToSelection(rows: ScreenRenderer.tableRows(height: plan.tuiSize.height, tunnelCount: snapshots.count))
            let grid = ScreenRenderer.render(model, width: plan.tuiSize.width, height: plan.tuiSize.height)
            if grid != previous { drawn += 1 }
            previous = grid
            let spent = Date().timeIntervalSince(frameStart)
            renderTime += spent
            if spent < interval { usleep(UInt32((interval - spent) * 1e6)) }
        }
        let wall = Date().timeIntervalSince(startWall)
        let cpu = threadCPUSeconds() - startCPU
        let size = "\(plan.tuiSize.width)×\(plan.tuiSize.height)"
        return [
            Row(
                "tui", "CPU share of one core, \(plan.tuiTunnels) tunnels at \(Int(plan.tuiRate)) Hz, \(size)", unit: "%", direct: nil,
                tunnel: cpu / wall * 100, target: "≤ 5 %", note: "\(drawn) of \(frames) frames changed"),
            Row("tui", "model update + render + diff per frame", unit: "ms", direct: nil, tunnel: renderTime / Double(frames) * 1000),
        ]
    }

    /// CPU time of the calling thread (user + system).
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
