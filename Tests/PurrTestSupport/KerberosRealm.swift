import Foundation
import XCTest

/// A private MIT Kerberos realm on loopback, made and run by a test: a KDC (`krb5kdc`, TCP only) with
/// its database in a temporary directory (`kdb5_util create -s`), principals made with `kadmin.local`,
/// a keytab for the proxy's `HTTP/localhost` and one for each user (so `kinit -k` needs no password
/// typed). Programs find it through `KRB5_CONFIG` (and `KRB5_KDC_PROFILE` for the KDC's own tools); each
/// test gives its own `KRB5CCNAME`. The proxy is addressed as `localhost`: krb5.conf turns off reverse
/// lookups and canonicalisation so that the service principal stays `HTTP/localhost@PURR.TEST`.
public final class KerberosRealm: @unchecked Sendable {
    public static let realm = "PURR.TEST"
    public let directory: String
    public let port: Int
    public let configFile: String
    /// The keytab holding `HTTP/localhost@PURR.TEST`, for the proxy.
    public let serviceKeytab: String
    let kdc: RunningProcess
    let kadmin: String
    let kinitPath: String
    let klistPath: String

    /// The KDC's and kinit's programs, or a skip that names the package to install.
    public static func programs() throws -> (kdc: String, util: String, kadmin: String, kinit: String, klist: String) {
        func find(_ path: String, _ package: String) throws -> String {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw XCTSkip("\(path) is missing: apt-get install \(package) (scripts/deps.sh test does this)")
            }
            return path
        }
        return (
            try find("/usr/sbin/krb5kdc", "krb5-kdc"), try find("/usr/sbin/kdb5_util", "krb5-kdc"),
            try find("/usr/sbin/kadmin.local", "krb5-admin-server"), try find("/usr/bin/kinit", "krb5-user"),
            try find("/usr/bin/klist", "krb5-user")
        )
    }

    public init() throws {
        let programs = try Self.programs()
        kadmin = programs.kadmin
        kinitPath = programs.kinit
        klistPath = programs.klist
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("krb5-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Readable by squid's `proxy` user (the keytab and krb5.conf are read by its helper).
        chmod(directory, 0o755)
        port = RunningProcess.freePort()
        configFile = "\(directory)/krb5.conf"
        serviceKeytab = "\(directory)/http.keytab"
        try """
        [libdefaults]
            default_realm = \(Self.realm)
            dns_lookup_realm = false
            dns_lookup_kdc = false
            rdns = false
            dns_canonicalize_hostname = false
            udp_preference_limit = 1
            ticket_lifetime = 1h
        [realms]
            \(Self.realm) = {
                kdc = 127.0.0.1:\(port)
            }
        [domain_realm]
            localhost = \(Self.realm)

        """.write(toFile: configFile, atomically: true, encoding: .utf8)
        try """
        [kdcdefaults]
            kdc_listen = 127.0.0.1:\(port)
            kdc_tcp_listen = 127.0.0.1:\(port)
        [realms]
            \(Self.realm) = {
                database_name = \(directory)/principal
                key_stash_file = \(directory)/stash
                acl_file = \(directory)/kadm5.acl
                kdc_listen = 127.0.0.1:\(port)
                kdc_tcp_listen = 127.0.0.1:\(port)
                max_life = 1h
            }
        [logging]
            kdc = FILE:\(directory)/kdc.log

        """.write(toFile: "\(directory)/kdc.conf", atomically: true, encoding: .utf8)
        let environment = ["KRB5_CONFIG": configFile, "KRB5_KDC_PROFILE": "\(directory)/kdc.conf"]
        let master = UUID().uuidString
        try Self.check(
            RunningProcess.run(absolute: programs.util, ["create", "-s", "-r", Self.realm, "-P", master], environment: environment),
            "kdb5_util create")
        kdc = try RunningProcess(absolute: programs.kdc, ["-n", "-r", Self.realm, "-P", "\(directory)/kdc.pid"], environment: environment)
        try admin("addprinc -randkey HTTP/localhost")
        try admin("ktadd -k \(serviceKeytab) HTTP/localhost")
        let listening = TestKit.poll(timeout: 20) { (try? BlockingSocket(port: port)) != nil || !kdc.process.isRunning }
        guard listening, kdc.process.isRunning else {
            let log = (try? String(contentsOfFile: "\(directory)/kdc.log", encoding: .utf8)) ?? ""
            kdc.stop()
            throw BlockingSocket.Failure(description: "krb5kdc did not start: \(kdc.stderr) \(log)")
        }
    }

    deinit { stop() }

    /// Stops the KDC and removes the realm.
    public func stop() {
        kdc.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The environment a program needs to use this realm with credential cache `cache`.
    public func environment(cache: String) -> [String: String] {
        ["KRB5_CONFIG": configFile, "KRB5CCNAME": "FILE:\(cache)"]
    }

    /// A fresh cache file's path in the realm's directory (nothing in it yet).
    public func newCache() -> String { "\(directory)/cc-\(UUID().uuidString)" }

    /// One `kadmin.local` query.
    public func admin(_ query: String) throws {
        try Self.check(
            RunningProcess.run(
                absolute: kadmin, ["-r", Self.realm, "-q", query],
                environment: ["KRB5_CONFIG": configFile, "KRB5_KDC_PROFILE": "\(directory)/kdc.conf"]),
            "kadmin.local \(query)")
    }

    /// Adds user `name` and writes its keytab (so kinit needs no password typed); returns the keytab.
    @discardableResult
    public func addUser(_ name: String) throws -> String {
        let keytab = "\(directory)/\(name).keytab"
        try admin("addprinc -randkey \(name)")
        try admin("ktadd -k \(keytab) \(name)")
        return keytab
    }

    /// `kinit -k` for `user` into `cache`, for `lifetime` (kinit's syntax: "1h", "5s").
    public func kinit(_ user: String, cache: String, lifetime: String? = nil) throws {
        let keytab = "\(directory)/\(user).keytab"
        let arguments = ["-k", "-t", keytab] + (lifetime.map { ["-l", $0] } ?? []) + ["\(user)@\(Self.realm)"]
        try Self.check(RunningProcess.run(absolute: kinitPath, arguments, environment: environment(cache: cache)), "kinit \(user)")
    }

    /// Whether `cache` holds a ticket that has not expired (`klist -s`).
    public func hasValidTicket(cache: String) -> Bool {
        (try? RunningProcess.run(absolute: klistPath, ["-s"], environment: environment(cache: cache)).status) == 0
    }

    /// The KDC's log (what it issued and refused).
    public var log: String { (try? String(contentsOfFile: "\(directory)/kdc.log", encoding: .utf8)) ?? "" }

    static func check(_ result: (status: Int32, stdout: String, stderr: String), _ what: String) throws {
        guard result.status == 0 else {
            throw BlockingSocket.Failure(description: "\(what) failed (\(result.status)): \(result.stdout) \(result.stderr)")
        }
    }
}
