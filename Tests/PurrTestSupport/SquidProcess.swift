import Foundation

/// A real squid (Debian's; it answers CONNECT with `HTTP/1.1 200`) on a free loopback port, in the
/// foreground (`-N`), with its own config, pid file and logs in a temporary directory and its own
/// service name (`-n`: its shared memory segments must not meet another instance's). Basic auth goes
/// through squid's `basic_ncsa_auth` helper and an htpasswd file made with `openssl passwd -apr1`.
/// Started as root, it runs as the `proxy` user (squid refuses root), who then owns the directory.
public final class SquidProcess: ForwardProxy, @unchecked Sendable {
    public let name = "squid"
    public let port: Int
    public let directory: String
    let service: String
    let process: RunningProcess

    /// - Parameters:
    ///   - connectPorts: the only ports CONNECT may reach (others are answered 403).
    ///   - credentials: `user:password` required with basic auth, or nil for none.
    public init(connectPorts: [Int], credentials: String? = nil) throws {
        let binary = try ProxyBinary.find(["/usr/sbin/squid", "/usr/bin/squid"], package: "squid")
        port = RunningProcess.freePort()
        service = "purr" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("squid-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var access = "http_access allow localhost\n"
        if let credentials {
            let (user, password) = Self.split(credentials)
            let helper = try ProxyBinary.find(["/usr/lib/squid/basic_ncsa_auth", "/usr/lib64/squid/basic_ncsa_auth"], package: "squid")
            let hash = try RunningProcess.run(absolute: "/usr/bin/openssl", ["passwd", "-apr1", password])
            guard hash.status == 0 else { throw BlockingSocket.Failure(description: "openssl passwd failed: \(hash.stderr)") }
            try "\(user):\(hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines))\n"
                .write(toFile: "\(directory)/htpasswd", atomically: true, encoding: .utf8)
            access = """
                auth_param basic program \(helper) \(directory)/htpasswd
                auth_param basic realm purr-test
                acl authenticated proxy_auth REQUIRED
                http_access allow localhost authenticated

                """
        }
        let runAs = getuid() == 0 ? "cache_effective_user proxy\n" : ""
        let config = """
            http_port 127.0.0.1:\(port)
            visible_hostname purr-test
            pid_filename \(directory)/squid.pid
            cache_log \(directory)/cache.log
            access_log none
            cache_store_log none
            cache deny all
            coredump_dir \(directory)
            shutdown_lifetime 0 seconds
            \(runAs)acl purr_ports port \(connectPorts.map(String.init).joined(separator: " "))
            http_access deny CONNECT !purr_ports
            \(access)http_access deny all

            """
        try config.write(toFile: "\(directory)/squid.conf", atomically: true, encoding: .utf8)
        if getuid() == 0, let user = getpwnam("proxy") {
            for entry in ["", "/squid.conf", "/htpasswd"] where FileManager.default.fileExists(atPath: directory + entry) {
                chown(directory + entry, user.pointee.pw_uid, user.pointee.pw_gid)
            }
        }
        process = try RunningProcess(absolute: binary, ["-N", "-n", service, "-f", "\(directory)/squid.conf"])
        try ProxyBinary.awaitListening(process, port: port, name: name, log: "\(directory)/cache.log")
    }

    static func split(_ credentials: String) -> (String, String) {
        let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
    }

    public var log: String { (try? String(contentsOfFile: "\(directory)/cache.log", encoding: .utf8)) ?? "" }

    /// Stops squid; removes its shared memory segments (left behind if it had to be killed) and directory.
    public func stop() {
        process.stop()
        let shm = "/dev/shm"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: shm)) ?? [] where file.hasPrefix(service + "-") {
            try? FileManager.default.removeItem(atPath: "\(shm)/\(file)")
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
