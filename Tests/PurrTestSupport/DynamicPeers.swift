import Foundation
import XCTest

/// The real programs the dynamic tunnel tests drive: python-socks (from the venv), a Python HTTP
/// origin, OpenSSH's sshd with its own keys, and `purr connect --socks5`.
public enum DynamicPeers {
    /// Runs `socks_probe.py SPEC...` with the venv's Python (python-socks) and decodes its JSON line:
    /// per request its SOCKS5 reply code (0: connected, then the first 12 bytes the target sent).
    public static func socksProbe(_ specs: [String], timeout: Double = 60) throws -> [[String: Any]] {
        let script = WireFixtures.url("socks_probe.py").path
        let result = try RunningProcess.run(absolute: try PythonPeers.program("python"), [script] + specs, timeout: timeout)
        guard result.status == 0, let line = result.stdout.split(separator: "\n").last,
            let array = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [[String: Any]]
        else {
            throw PythonPeers.Missing(description: "socks_probe.py failed (\(result.status)): \(result.stdout) \(result.stderr)")
        }
        return array
    }

    /// `python3 -m http.server` serving `directory` on a free loopback port; returns once it answers.
    public static func httpOrigin(serving directory: URL, bind: String = "127.0.0.1") throws -> (RunningProcess, Int) {
        let port = RunningProcess.freePort()
        let process = try RunningProcess(
            absolute: "/usr/bin/python3", ["-m", "http.server", String(port), "--bind", bind, "--directory", directory.path])
        let up = TestKit.poll(timeout: 15) { (try? BlockingSocket(host: bind == "::" ? "::1" : bind, port: port)) != nil }
        XCTAssertTrue(up, "http.server did not listen: \(process.stderr)")
        return (process, port)
    }

    /// A real sshd on a free loopback port, a host key and a client key of its own (in `directory`);
    /// returns it, its port and the client key's path.
    public static func sshd(in directory: URL) throws -> (RunningProcess, Int, String) {
        let sshd = "/usr/sbin/sshd"
        guard FileManager.default.isExecutableFile(atPath: sshd) else {
            throw PythonPeers.Missing(description: "\(sshd) is missing: scripts/deps.sh test installs openssh-server")
        }
        let hostKey = directory.appendingPathComponent("host_key").path
        let userKey = directory.appendingPathComponent("user_key").path
        for key in [hostKey, userKey] {
            let made = try RunningProcess.run(absolute: "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
            XCTAssertEqual(made.status, 0, made.stderr)
        }
        let port = RunningProcess.freePort()
        let config = directory.appendingPathComponent("sshd_config")
        try """
        Port \(port)
        ListenAddress 127.0.0.1
        HostKey \(hostKey)
        AuthorizedKeysFile \(userKey).pub
        StrictModes no
        UsePAM no
        PidFile none
        PasswordAuthentication no
        KbdInteractiveAuthentication no

        """.write(to: config, atomically: true, encoding: .utf8)
        // sshd wants its privilege separation directory, as the package's service makes it.
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let process = try RunningProcess(absolute: sshd, ["-D", "-e", "-f", config.path])
        XCTAssertTrue(process.waitForOutput("Server listening", timeout: 15) || process.stderr.contains("Server listening"), process.stderr)
        return (process, port, userKey)
    }
}
