import Foundation

/// nginx's stream module as a two-hop relay (client → hop 1 → hop 2 → target), the C reference for
/// `connect` and `rate`: one nginx, two `server` blocks, two workers (one per core here), loopback only.
final class NginxStream {
    static let binaries = ["/usr/sbin/nginx", "/usr/bin/nginx"]
    static let module = "/usr/lib/nginx/modules/ngx_stream_module.so"

    let port: Int
    private let process: ChildProcess
    private let prefix: String

    /// nginx's path, or nil when it is not installed.
    static var binary: String? { binaries.first { FileManager.default.isExecutableFile(atPath: $0) } }

    init(target: Int, label: String) throws {
        guard let binary = Self.binary else { throw BenchError("nginx is not installed (apt-get install nginx libnginx-mod-stream)") }
        prefix = FileManager.default.temporaryDirectory.appendingPathComponent("purr-bench-nginx-\(label)-\(getpid())").path
        try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
        // nginx cannot report a port it picked: take two free ones and hand them over.
        let first = try Listener()
        let second = try Listener()
        port = first.closedPort()
        let hop2 = second.closedPort()
        // Debian builds the stream module as a dynamic module (libnginx-mod-stream).
        let load = FileManager.default.fileExists(atPath: Self.module) ? "load_module \(Self.module);" : ""
        let config = """
            \(load)
            worker_processes 2;
            pid \(prefix)/nginx.pid;
            error_log \(prefix)/error.log warn;
            events { worker_connections 16384; }
            stream {
                server { listen 127.0.0.1:\(port) backlog=4096; proxy_pass 127.0.0.1:\(hop2); }
                server { listen 127.0.0.1:\(hop2) backlog=4096; proxy_pass 127.0.0.1:\(target); }
            }
            """
        try config.write(toFile: "\(prefix)/nginx.conf", atomically: true, encoding: .utf8)
        process = try ChildProcess(
            binary, ["-p", prefix, "-c", "\(prefix)/nginx.conf", "-g", "daemon off;"],
            logPath: "\(prefix)/stderr.log")
        if process.waitForListener(port: port) { return }
        let log = (try? String(contentsOfFile: "\(prefix)/stderr.log", encoding: .utf8)) ?? ""
        stop()
        throw BenchError(
            "nginx (stream module) did not start within 10 s: \(log.split(separator: "\n").last ?? "no output") (apt-get install libnginx-mod-stream)"
        )
    }

    /// CPU seconds of the master and its workers (the workers do the relaying).
    var cpuSeconds: Double {
        ([process.pid] + ProcStatus.children(pid: process.pid)).map { ProcStatus.cpuSeconds(pid: $0) }.reduce(0, +)
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: prefix)
    }
}
