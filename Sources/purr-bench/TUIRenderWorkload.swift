import Foundation
import PurrClient
import PurrTUI

#if canImport(Glibc)
    import Glibc
#endif

/// Workload 6: purr-tui's frame loop without a terminal. 1000 tunnels whose counters move every
/// frame, refreshed into the model (rates, sparklines), rendered to a cell grid and compared with the
/// last frame, at 10 Hz; the figure is this thread's CPU time over wall time.
enum TUIRenderWorkload {
    static func run(_ context: BenchContext) -> [Row] {
        let plan = context.plan
        let url = (try? ServerURL(parsing: "http://purr.example.com:8080/bench"))!
        var snapshots = (0..<plan.tuiTunnels).map { index in
            TunnelSnapshot(
                config: TunnelConfig(name: "tunnel-\(index)", url: url), state: index % 7 == 0 ? .closed : .listening,
                boundAddresses: ["127.0.0.1:\(20000 + index)"], active: index % 3, total: index)
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
