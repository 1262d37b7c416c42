import Foundation

/// `reverse` (issue 28): a reverse tunnel against a forward one on the same `purr-server`, each client in
/// its own process. First byte: connect to the published port, one byte echoed by the exposed service
/// (a warm pool of 4 held requests) against the same through `purr connect --pool 4` to a fixed route,
/// alternated sample by sample. Bulk: one stream into the sink through each.
enum ReverseWorkload {
    static func run(_ context: BenchContext, echo: EchoServer) throws -> [Row] {
        let plan = context.plan
        let sink = try SinkServer()
        defer { sink.stop() }
        let stack = try ReverseStack(binDir: context.binDir, echo: echo.port, sink: sink.port, logLevel: plan.tunnelLogLevel)
        defer { stack.stop() }
        let samples = try LatencyWorkloads.alternating([stack.forwardEcho, stack.publishedEcho], plan: plan, label: "reverse")
        let (forward, reverse) = (samples[0], samples[1])
        let f = Percentiles(nanos: forward)
        let r = Percentiles(nanos: reverse)
        let label = "\(plan.connectCount)× connect, 1 B echo, close"
        var rows = [
            Row(
                "reverse", "\(label) p50: forward → reverse", unit: "µs", direct: f.p50, tunnel: r.p50, target: "≤ 1.2×",
                note: "direct: purr connect --pool 4 to a fixed route; tunnel: the published port of purr expose --pool 4, one server"),
            Row("reverse", "\(label) p99: forward → reverse", unit: "µs", direct: f.p99, tunnel: r.p99),
        ]
        let forwardBulk = try BulkWorkload.throughput(port: stack.forwardSink, streams: 1, bytes: plan.bulkBytes, timeout: plan.loopTimeout)
        let reverseBulk = try BulkWorkload.throughput(
            port: stack.publishedSink, streams: 1, bytes: plan.bulkBytes, timeout: plan.loopTimeout)
        rows.append(
            Row(
                "reverse", "1 stream, \(BulkWorkload.sizeLabel(plan.bulkBytes)): forward → reverse", unit: "MiB/s", direct: forwardBulk,
                tunnel: reverseBulk, target: "≥ 0.9×"))
        return rows
    }
}

/// One `purr-server` with two fixed routes (echo, sink) and two `[[reverse]]` entries publishing the
/// same two services, two `purr connect --pool 4` and two `purr expose --pool 4`.
final class ReverseStack {
    let server: ChildProcess
    let clients: [ChildProcess]
    let forwardEcho: Int
    let forwardSink: Int
    let publishedEcho: Int
    let publishedSink: Int

    init(binDir: String, echo: Int, sink: Int, logLevel: String) throws {
        let logDir = FileManager.default.temporaryDirectory.path
        let config = "\(logDir)/purr-bench-reverse-server.toml"
        publishedEcho = try Listener().closedPort()
        publishedSink = try Listener().closedPort()
        try """
        [[routes]]
        path = "/echo"
        target = "127.0.0.1:\(echo)"
        [[routes]]
        path = "/sink"
        target = "127.0.0.1:\(sink)"
        [[reverse]]
        name = "echo"
        path = "/rev/echo"
        listen = "127.0.0.1:\(publishedEcho)"
        wait_timeout = 30
        [[reverse]]
        name = "sink"
        path = "/rev/sink"
        listen = "127.0.0.1:\(publishedSink)"
        wait_timeout = 30
        """.write(toFile: config, atomically: true, encoding: .utf8)
        server = try ChildProcess(
            "\(binDir)/purr-server",
            [
                "--listen", "127.0.0.1:0", "--config", config, "--log-level", logLevel, "--drain-timeout", "0",
                "--max-connections", "100000", "--max-connections-per-peer", "0",
            ],
            logPath: "\(logDir)/purr-bench-reverse-server.log")
        var started: [ChildProcess] = []
        do {
            let serverPort = try server.waitForPort(afterPrefix: "listening on ")
            func start(_ arguments: [String], _ name: String) throws -> ChildProcess {
                let process = try ChildProcess(
                    "\(binDir)/purr", arguments + ["--pool", "4", "--log-level", logLevel],
                    logPath: "\(logDir)/purr-bench-reverse-\(name).log")
                started.append(process)
                return process
            }
            let base = "http://127.0.0.1:\(serverPort)"
            forwardEcho = try start(["connect", "\(base)/echo", "--listen", "127.0.0.1:0"], "connect-echo")
                .waitForPort(afterPrefix: "listening on ")
            forwardSink = try start(["connect", "\(base)/sink", "--listen", "127.0.0.1:0"], "connect-sink")
                .waitForPort(afterPrefix: "listening on ")
            for (name, port) in [("echo", echo), ("sink", sink)] {
                _ = try start(["expose", "\(base)/rev/\(name)", "--to", "127.0.0.1:\(port)"], "expose-\(name)")
            }
            // Registered once the published echo answers (until then it refuses: the connection ends).
            let deadline = Clock.seconds() + 20
            while (try? LatencyWorkloads.connectOnce(port: publishedEcho)) == nil {
                guard Clock.seconds() < deadline else { throw BenchError("purr expose did not register within 20 s") }
                usleep(50_000)
            }
        } catch {
            for process in started { process.stop() }
            server.stop()
            throw error
        }
        clients = started
    }

    func stop() {
        for client in clients { client.stop() }
        server.stop()
    }
}
