import Foundation
import XCTest

/// A real squid that asks for one authentication scheme through its own helper: Negotiate with
/// `negotiate_kerberos_auth` (the realm's `HTTP/localhost` keytab), NTLM with `ntlm_fake_auth` (the
/// message exchange is real, the password is not checked), Basic with `basic_ncsa_auth` (an htpasswd
/// file). Like `SquidProcess`: a free loopback port, its own config, service name and directory, run as
/// the `proxy` user when started as root; always stopped.
public final class SquidAuthProxy: ForwardProxy, @unchecked Sendable {
    public enum Scheme {
        case negotiate(KerberosRealm)
        case ntlm
        case basic(user: String, password: String)
    }

    public let name: String
    public let port: Int
    public let directory: String
    let service: String
    let process: RunningProcess

    /// A helper's path, or a skip that names the package.
    static func helper(_ name: String) throws -> String {
        for directory in ["/usr/lib/squid", "/usr/lib64/squid", "/usr/libexec/squid"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("squid's \(name) is missing: apt-get install squid (scripts/deps.sh test does this)")
    }

    /// - Parameter connectPorts: the only ports CONNECT may reach (others are answered 403).
    public init(_ scheme: Scheme, connectPorts: [Int]) throws {
        guard let binary = ["/usr/sbin/squid", "/usr/bin/squid"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("squid is missing: apt-get install squid (scripts/deps.sh test does this)")
        }
        port = RunningProcess.freePort()
        service = "purr" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("squid-auth-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var environment: [String: String] = [:]
        let auth: String
        switch scheme {
        case .negotiate(let realm):
            name = "squid (Negotiate)"
            let helper = try Self.helper("negotiate_kerberos_auth")
            // The helper reads its own copy: the realm's directory belongs to root.
            try FileManager.default.copyItem(atPath: realm.serviceKeytab, toPath: "\(directory)/http.keytab")
            environment["KRB5_CONFIG"] = realm.configFile
            auth = """
                auth_param negotiate program \(helper) -s HTTP/localhost@\(KerberosRealm.realm) -k \(directory)/http.keytab -c \(directory) -t none
                auth_param negotiate children 2
                auth_param negotiate keep_alive on
                """
        case .ntlm:
            name = "squid (NTLM)"
            auth = """
                auth_param ntlm program \(try Self.helper("ntlm_fake_auth"))
                auth_param ntlm children 2
                auth_param ntlm keep_alive on
                """
        case .basic(let user, let password):
            name = "squid (Basic)"
            let hash = try RunningProcess.run(absolute: "/usr/bin/openssl", ["passwd", "-apr1", password])
            guard hash.status == 0 else { throw BlockingSocket.Failure(description: "openssl passwd failed: \(hash.stderr)") }
            try "\(user):\(hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines))\n"
                .write(toFile: "\(directory)/htpasswd", atomically: true, encoding: .utf8)
            auth = """
                auth_param basic program \(try Self.helper("basic_ncsa_auth")) \(directory)/htpasswd
                auth_param basic realm purr-test
                """
        }
        let runAs = getuid() == 0 ? "cache_effective_user proxy\n" : ""
        try """
        http_port 127.0.0.1:\(port)
        visible_hostname purr-test
        pid_filename \(directory)/squid.pid
        cache_log \(directory)/cache.log
        access_log none
        cache_store_log none
        cache deny all
        coredump_dir \(directory)
        shutdown_lifetime 0 seconds
        \(runAs)\(auth)
        acl purr_ports port \(connectPorts.map(String.init).joined(separator: " "))
        http_access deny CONNECT !purr_ports
        acl authenticated proxy_auth REQUIRED
        http_access allow localhost authenticated
        http_access deny all

        """.write(toFile: "\(directory)/squid.conf", atomically: true, encoding: .utf8)
        if getuid() == 0, let user = getpwnam("proxy") {
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                chown("\(directory)/\(file)", user.pointee.pw_uid, user.pointee.pw_gid)
            }
        }
        process = try RunningProcess(absolute: binary, ["-N", "-n", service, "-f", "\(directory)/squid.conf"], environment: environment)
        try ProxyBinary.awaitListening(process, port: port, name: name, log: "\(directory)/cache.log")
    }

    /// The proxy URL with the host `localhost` (Kerberos asks for a ticket for `HTTP/localhost`).
    public func localhostURL(userInfo: String? = nil) -> String {
        "http://\(userInfo.map { $0 + "@" } ?? "")localhost:\(port)"
    }

    public var log: String { (try? String(contentsOfFile: "\(directory)/cache.log", encoding: .utf8)) ?? "" }

    /// Stops squid (its helpers end with it); removes its shared memory segments and directory.
    public func stop() {
        process.stop()
        for file in (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? [] where file.hasPrefix(service + "-") {
            try? FileManager.default.removeItem(atPath: "/dev/shm/\(file)")
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
