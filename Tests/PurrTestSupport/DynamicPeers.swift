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
        // Under a shell that stays: sshd closes every descriptor it inherits as it starts, and Foundation's
        // Process takes a descriptor of its child closing as the child's end, then waits for it with a
        // blocking waitpid on its one manager thread; sshd's close made that thread wait on sshd for good,
        // and no other child's end was ever seen again (the ssh run "never exited"). The shell keeps the
        // descriptor and hands SIGTERM on to sshd.
        let script = "trap 'kill $p; wait $p; exit 0' TERM; \(sshd) -D -e -f '\(config.path)' & p=$!; wait $p"
        let process = try RunningProcess(absolute: "/bin/sh", ["-c", script])
        XCTAssertTrue(process.waitForOutput("Server listening", timeout: 15) || process.stderr.contains("Server listening"), process.stderr)
        return (process, port, userKey)
    }

    /// `ssh -p PORT HOST cat` through `ProxyCommand nc -X 5 -x 127.0.0.1:SOCKS %h %p` (OpenBSD's netcat),
    /// `input` as its standard input and its standard output written to `output`; no terminal, no
    /// prompts, no user config or known hosts. The shell does the redirections: a pipe from the test
    /// would hold `cat` open (its end never closed) and the run would never end.
    public static func sshCat(
        socksPort: Int, host: String, port: Int, key: String, input: URL, output: URL, timeout: Double = 60
    ) throws -> (status: Int32, stderr: String) {
        let netcat = ["/bin/nc.openbsd", "/usr/bin/nc.openbsd"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let netcat, FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh") else {
            throw PythonPeers.Missing(
                description: "ssh or nc.openbsd is missing: scripts/deps.sh test installs openssh-client, netcat-openbsd")
        }
        let ssh = [
            "/usr/bin/ssh", "-F", "/dev/null", "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-i", key, "-p", String(port),
            "-o", "ProxyCommand=\(netcat) -X 5 -x 127.0.0.1:\(socksPort) %h %p", host, "cat",
        ]
        let line = ssh.map(quoted).joined(separator: " ") + " < \(quoted(input.path)) > \(quoted(output.path))"
        let result = try RunningProcess.run(absolute: "/bin/sh", ["-c", line], timeout: timeout)
        return (result.status, result.stderr)
    }

    private static func quoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
