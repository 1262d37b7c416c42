import Foundation
import PurrTestSupport

/// A real HAProxy (Debian's `haproxy`) in front of purr-servers on loopback, with the configuration
/// docs/operations.md shows (Scale-out): HTTP mode, `GET /healthz` checks, a 503 retried elsewhere.
/// Its stats socket (`show stat`, on TCP here) says what it thinks of each server.
final class HAProxyProcess: @unchecked Sendable {
    static let binary = "/usr/sbin/haproxy"
    let port: Int
    let statsPort: Int
    let folder: String
    let process: RunningProcess

    /// The part users copy: defaults, the frontend and the backend (`servers`: name and HOST:PORT).
    static func config(
        bind: String, servers: [(name: String, address: String)], balance: String = "leastconn", checkInterval: String = "1s"
    ) -> String {
        let lines = servers.map { "    server \($0.name) \($0.address) check" }.joined(separator: "\n")
        return """
            defaults
                mode http
                timeout connect 5s
                timeout client 1h
                timeout server 1h
                # A relay lives as long as its tunnel.
                timeout tunnel 1h
                # An upgrade a draining purr-server answers 503 (or a server that is gone) is sent to
                # another server before the client sees it: nothing was relayed yet.
                retries 3
                option redispatch 1
                retry-on conn-failure empty-response 503

            frontend purr
                bind \(bind)
                default_backend purr_servers

            backend purr_servers
                balance \(balance)
                # purr-server answers 200 here while serving, 503 while draining.
                option httpchk GET /healthz
                http-check expect status 200
                default-server inter \(checkInterval) fall 1 rise 2
            \(lines)

            """
    }

    /// `checkInterval`: 200 ms by default so a test is quick (the docs use 1 s); `1h` keeps HAProxy
    /// from noticing a drain, so what a 503 does on its own shows.
    init(servers: [Int], balance: String = "leastconn", checkInterval: String = "200ms") throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw BlockingSocket.Failure(description: "haproxy is not installed (apt-get install haproxy; scripts/deps.sh test does this)")
        }
        port = RunningProcess.freePort()
        statsPort = RunningProcess.freePort()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("haproxy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let named = servers.enumerated().map { (name: "s\($0.offset + 1)", address: "127.0.0.1:\($0.element)") }
        // The stats socket on TCP (the docs put it on a UNIX socket): before the defaults, or it would speak HTTP.
        let text =
            "global\n    stats socket ipv4@127.0.0.1:\(statsPort) level user\n\n"
            + Self.config(bind: "127.0.0.1:\(port)", servers: named, balance: balance, checkInterval: checkInterval)
        try text.write(toFile: "\(folder)/haproxy.cfg", atomically: true, encoding: .utf8)
        let check = try RunningProcess.run(absolute: Self.binary, ["-c", "-f", "\(folder)/haproxy.cfg"])
        guard check.status == 0 else {
            throw BlockingSocket.Failure(description: "haproxy -c: \(check.stdout) \(check.stderr)")
        }
        process = try RunningProcess(absolute: Self.binary, ["-db", "-f", "\(folder)/haproxy.cfg"])
        let listening = TestKit.poll(timeout: 15) { (try? BlockingSocket(port: self.port)) != nil || !process.process.isRunning }
        guard listening, process.process.isRunning else {
            process.stop()
            throw BlockingSocket.Failure(description: "haproxy did not start: \(process.stderr)")
        }
    }

    deinit { process.stop() }

    func stop() { process.stop() }

    /// The backend's rows of `show stat` (CSV) on the stats socket, by server name (`s1`...), plus
    /// `BACKEND`: column name to value.
    func rows() throws -> [String: [String: String]] {
        let socket = try BlockingSocket(port: statsPort)
        defer { socket.close() }
        try socket.write("show stat\n")
        let lines = String(decoding: try socket.readToEnd(), as: UTF8.self).split(separator: "\n")
        guard let header = lines.first, header.hasPrefix("# ") else {
            throw BlockingSocket.Failure(description: "haproxy show stat: \(lines.prefix(3))")
        }
        let columns = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var result: [String: [String: String]] = [:]
        for line in lines.dropFirst() {
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard values.first == "purr_servers", values.count > 1 else { continue }
            result[values[1]] = Dictionary(zip(columns, values), uniquingKeysWith: { first, _ in first })
        }
        return result
    }

    /// `UP`, `DOWN`, ... of one server (`s1`...).
    func status(of server: String) -> String? {
        (try? rows())?[server]?["status"]
    }
}
