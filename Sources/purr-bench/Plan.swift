/// How much each workload does: the sizes by default, smaller with `--quick`.
struct Plan: Sendable {
    static let mebibyte = 1 << 20
    static let gibibyte = 1 << 30

    var bulkBytes = 2 * gibibyte
    var parallelStreams = 4
    /// Bytes per parallel stream.
    var parallelBytes = gibibyte / 2
    var connectCount = 2000
    var pingRounds = 5000
    var pingSize = 64
    var scaleConnections = 1000
    var scaleEchoRounds = 3
    /// The slow reader: seconds of reading at `slowRate` while the writer pushes as fast as it can.
    var slowSeconds = 20.0
    var slowRate = mebibyte
    /// The TUI render: tunnels on screen, frames per second, seconds measured, screen size.
    var tuiTunnels = 1000
    var tuiRate = 10.0
    var tuiSeconds = 10.0
    var tuiSize = (width: 200, height: 50)
    /// The soak: minutes, new connections per second, at most this many at once, bulk size, sampling.
    var soakMinutes = 10.0
    var soakRate = 20.0
    var soakConcurrency = 32
    var soakBulkBytes = mebibyte
    var soakSampleSeconds = 5.0
    /// The wan workload: the emulated link's one-way delay (seconds) and samples per path.
    var wanDelay = 0.010
    var wanSamples = 30
    /// The rate workload: client threads, seconds per path (in 1 s slices that cycle through the
    /// paths), and the request (echoed back) each connection carries.
    var rateClients = 16
    var rateSeconds = 5.0
    var rateRequestSize = 16
    /// `pool = N` for the tunnel under test (0: no warm pool).
    var pool = 0
    /// `connect --socks5`: a dynamic tunnel's SOCKS5 port as one more path, against the fixed tunnel.
    var socks5 = false
    /// `--log-level` of the tunnel's programs (`info` adds an open and a close line per connection on each side).
    var tunnelLogLevel = "warning"
    /// `--threads` of the tunnel's programs (nil: their default, one event loop per core).
    var tunnelThreads: Int?
    /// Upper bound on any one timed loop, so a stuck relay cannot hang the bench.
    var loopTimeout = 180.0

    static func quick() -> Plan {
        var plan = Plan()
        plan.bulkBytes = gibibyte / 2
        plan.parallelBytes = gibibyte / 8
        plan.connectCount = 500
        plan.rateSeconds = 2
        plan.pingRounds = 2000
        plan.slowSeconds = 6
        plan.tuiSeconds = 3
        plan.loopTimeout = 30
        return plan
    }
}
