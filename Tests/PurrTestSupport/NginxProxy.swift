import Foundation

/// A real nginx in front of one or more backends, with the usual upgrade lines, on loopback only.
public final class NginxProxy: @unchecked Sendable {
    public let port: Int
    public let prefix: String
    let process: RunningProcess

    /// The `location` block users put in front of purr-server (also in docs/operations.md, behind nginx).
    public static func location(upstream: String) -> String {
        """
                location / {
                    proxy_pass http://\(upstream);
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                    proxy_set_header Host $host;
                    proxy_read_timeout 1h;
                    proxy_send_timeout 1h;
                    proxy_buffering off;
                }
        """
    }

    public init(backends: [Int]) throws {
        guard let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"].first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw BlockingSocket.Failure(description: "nginx is not installed (apt-get install nginx; .ci/run does this)")
        }
        port = RunningProcess.freePort()
        prefix = FileManager.default.temporaryDirectory.appendingPathComponent("nginx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(prefix)/logs", withIntermediateDirectories: true)
        let servers = backends.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n")
        let user = getuid() == 0 ? "user root;\n" : ""
        let config = """
            \(user)worker_processes 1;
            pid \(prefix)/nginx.pid;
            error_log \(prefix)/logs/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(prefix)/body;
                proxy_temp_path \(prefix)/proxy;
                fastcgi_temp_path \(prefix)/fastcgi;
                uwsgi_temp_path \(prefix)/uwsgi;
                scgi_temp_path \(prefix)/scgi;
                upstream purr {
            \(servers)
                }
                server {
                    listen 127.0.0.1:\(port);
            \(Self.location(upstream: "purr"))
                }
            }

            """
        try config.write(toFile: "\(prefix)/nginx.conf", atomically: true, encoding: .utf8)
        process = try RunningProcess(absolute: binary, ["-p", prefix, "-c", "\(prefix)/nginx.conf", "-g", "daemon off;"])
        let listening = TestKit.poll(timeout: 15) { (try? BlockingSocket(port: self.port)) != nil || !process.process.isRunning }
        guard listening, process.process.isRunning else {
            let log = (try? String(contentsOfFile: "\(prefix)/logs/error.log", encoding: .utf8)) ?? ""
            throw BlockingSocket.Failure(description: "nginx did not start: \(process.stderr) \(log)")
        }
    }

    public func stop() {
        process.stop()
    }

    deinit { stop() }
}
