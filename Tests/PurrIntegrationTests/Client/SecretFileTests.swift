import Foundation
import PurrClient
import PurrCore
import PurrTestSupport
import XCTest

/// Issue 22, point 7: secrets out of argv (`--token-file`, `PURR_TOKEN`) and a warning for readable ones.
final class SecretFileTests: XCTestCase {
    let group = InProcessServer.group

    static func file(_ text: String, mode: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("purr-secret-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func testTheWarningLine() throws {
        let open = try Self.file("t0ken\n", mode: 0o644)
        XCTAssertEqual(
            SecretFileCheck.warning(for: open, program: "purr"),
            "purr: warning: \(open) is readable by others (mode 0644) and holds secrets; chmod 600 it")
        XCTAssertNil(SecretFileCheck.warning(for: try Self.file("t0ken\n", mode: 0o600), program: "purr"))
        XCTAssertNil(SecretFileCheck.warning(for: try Self.file("t0ken\n", mode: 0o400), program: "purr"))
        // Its group is fine when it is the reader's own (root:purr 0640 for a service running as purr).
        XCTAssertNil(SecretFileCheck.warning(for: try Self.file("t0ken\n", mode: 0o640), program: "purr"))
        XCTAssertNil(SecretFileCheck.warning(for: "/nonexistent/file", program: "purr"))
    }

    /// `--token-file` and `PURR_TOKEN` against a real purr-server's token route; the token is never in
    /// the client's command line; a token file others can read gets one warning line, a private one none.
    func testTokenFileAndEnvironmentAgainstARealServer() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let token = "s3cr3t.t0ken-\(UInt32.random(in: 0...UInt32.max))"
        let (server, port) = try RunningProcess.purrServer(
            config: "[[routes]]\npath = \"/t\"\ntarget = \"127.0.0.1:\(target.port)\"\ntoken = \"\(token)\"\n")
        defer { server.stop() }
        let url = "http://127.0.0.1:\(port)/t"
        let privateFile = try Self.file("\(token)\n", mode: 0o600)
        let openFile = try Self.file("\(token)\n", mode: 0o644)
        let runs: [(name: String, arguments: [String], environment: [String: String], warns: Bool)] = [
            ("--token-file 0600", ["--token-file", privateFile], [:], false),
            ("--token-file 0644", ["--token-file", openFile], [:], true),
            ("PURR_TOKEN", [], ["PURR_TOKEN": token], false),
        ]
        for run in runs {
            let client = try RunningProcess(
                "purr", ["connect", url, "--listen", "127.0.0.1:0"] + run.arguments, environment: run.environment)
            defer { client.stop() }
            XCTAssertTrue(client.waitForOutput("listening on 127.0.0.1:"), "\(run.name): \(client.stderr)")
            let listenPort = try XCTUnwrap(
                client.stdout.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            let socket = try BlockingSocket(port: listenPort)
            try socket.write("through \(run.name)")
            XCTAssertEqual(try socket.read(exactly: 8 + run.name.utf8.count), Array("through \(run.name)".utf8), run.name)
            socket.close()
            let commandLine = try String(contentsOfFile: "/proc/\(client.pid)/cmdline", encoding: .utf8)
            XCTAssertFalse(commandLine.contains(token), "\(run.name): the token is not in /proc/PID/cmdline")
            XCTAssertTrue(commandLine.contains("connect"), commandLine)
            let warnings = client.stderr.split(separator: "\n").filter { $0.contains("warning:") }
            if run.warns {
                XCTAssertEqual(
                    warnings, ["purr: warning: \(openFile) is readable by others (mode 0644) and holds secrets; chmod 600 it"])
            } else {
                XCTAssertEqual(warnings, [], client.stderr)
            }
            XCTAssertFalse(client.stderr.contains(token), "never logged")
        }
        // The server said the same about its own server.toml (written 0644 with a token in it).
        XCTAssertTrue(
            server.stderr.contains("server.toml is readable by others (mode 0644) and holds secrets; chmod 600 it"), server.stderr)

        // A wrong token is refused by the server; a bad one never leaves: one line naming its source.
        let bad: [([String], [String: String], String)] = [
            (["--token", "a\r\nX-Injected: yes"], [:], "purr: error: --token: not a valid token (token68)"),
            ([], ["PURR_TOKEN": "a b"], "purr: error: PURR_TOKEN: not a valid token (token68)"),
            (["--token-file", try Self.file("a\nb\n", mode: 0o600)], [:], "expected one line, found 2"),
            (["--token-file", try Self.file("\n", mode: 0o600)], [:], ": is empty"),
            (["--token-file", "/nonexistent"], [:], "purr: error: --token-file /nonexistent: cannot read"),
            (["--token", "x", "--token-file", privateFile], [:], "use one of --token and --token-file"),
        ]
        for (arguments, environment, expected) in bad {
            let result = try RunningProcess.run("purr", ["connect", url] + arguments, environment: environment)
            XCTAssertEqual(result.status, 2, "\(arguments)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
    }

    /// purr-server: a token file and a TLS key that others can read get one line each; private ones none.
    func testServerWarnsAboutReadableTokenFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("purr-secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tokens = dir.appendingPathComponent("tokens.txt")
        try "t0ken: 127.0.0.1:9\n".write(to: tokens, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: tokens.path)
        let config = "[[routes]]\npath = \"/v\"\ntoken_file = \"tokens.txt\"\nallow = [\"127.0.0.1:*\"]\n"
        let (open, _) = try RunningProcess.purrServer(config: config, in: dir)
        XCTAssertTrue(
            open.waitForOutput("purr-server: warning: \(tokens.path) is readable by others (mode 0644) and holds secrets; chmod 600 it"),
            open.stderr)
        XCTAssertFalse(open.stderr.contains("server.toml is readable"), "no secret in this server.toml: \(open.stderr)")
        open.stop()

        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokens.path)
        let (closed, _) = try RunningProcess.purrServer(config: config, in: dir)
        XCTAssertFalse(closed.stderr.contains("is readable by"), closed.stderr)
        closed.stop()
    }
}
