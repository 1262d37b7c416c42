import Foundation

/// A real tinyproxy (Debian's; it answers CONNECT with `HTTP/1.0 200`) on a free loopback port, in the
/// foreground, with its own config, pid and log file in a temporary directory.
public final class TinyproxyProcess: ForwardProxy, @unchecked Sendable {
    public let name = "tinyproxy"
    public let port: Int
    public let directory: String
    let process: RunningProcess

    /// - Parameters:
    ///   - connectPorts: the only ports CONNECT may reach (others are answered 403).
    ///   - credentials: `user:password` required with basic auth, or nil for none.
    ///   - timeout: seconds tinyproxy lets a connection (a CONNECT tunnel included) sit idle before it cuts it.
    public init(connectPorts: [Int], credentials: String? = nil, timeout: Int = 600) throws {
        let binary = try ProxyBinary.find(["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"], package: "tinyproxy")
        port = RunningProcess.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tinyproxy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let auth = credentials.map { "BasicAuth " + $0.split(separator: ":", maxSplits: 1).joined(separator: " ") + "\n" } ?? ""
        let config = """
            Port \(port)
            Listen 127.0.0.1
            Timeout \(timeout)
            MaxClients 100
            LogLevel Notice
            LogFile "\(directory)/tinyproxy.log"
            PidFile "\(directory)/tinyproxy.pid"
            \(connectPorts.map { "ConnectPort \($0)" }.joined(separator: "\n"))
            \(auth)
            """
        try config.write(toFile: "\(directory)/tinyproxy.conf", atomically: true, encoding: .utf8)
        process = try RunningProcess(absolute: binary, ["-d", "-c", "\(directory)/tinyproxy.conf"])
        try ProxyBinary.awaitListening(process, port: port, name: name, log: "\(directory)/tinyproxy.log")
    }

    public var log: String { (try? String(contentsOfFile: "\(directory)/tinyproxy.log", encoding: .utf8)) ?? "" }

    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
