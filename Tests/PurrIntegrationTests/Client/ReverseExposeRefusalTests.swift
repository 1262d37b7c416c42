import Foundation
import PurrTestSupport
import XCTest

/// `purr expose` against refusals that retrying cannot change (found attacking it: it retried a wrong
/// token forever, and a name with CR LF reached a log line): one line, exit 2; a name outside the
/// server's rule never leaves.
final class ReverseExposeRefusalTests: XCTestCase {
    func testPermanentRefusalsEndWithOneLineAndABadNameIsRefusedAtStart() throws {
        let published = RunningProcess.freePort()
        let (server, serverPort) = try RunningProcess.reverseServer(token: "right-token", published: published)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(serverPort)/rev/web"
        for (token, name, words) in [
            ("wrong-token", "web", "401"),
            ("right-token", "nope", "404"),
        ] {
            let run = try RunningProcess.run(
                "purr", ["expose", url, "--to", "127.0.0.1:9", "--name", name], environment: ["PURR_TOKEN": token], timeout: 20)
            XCTAssertEqual(run.status, 2, run.stderr)
            let errors = run.stderr.split(separator: "\n").filter { $0.contains("error:") }
            XCTAssertEqual(errors.count, 1, run.stderr)
            XCTAssertTrue(errors.first?.contains("registration refused") == true && run.stderr.contains(words), run.stderr)
            XCTAssertFalse(run.stderr.contains(token), "no token in what it prints")
        }
        for bad in ["lab\r\nX-Evil: 1", "lab x", "l\u{1}", String(repeating: "a", count: 65)] {
            let run = try RunningProcess.run(
                "purr", ["expose", url, "--to", "127.0.0.1:9", "--name", bad], environment: ["PURR_TOKEN": "right-token"], timeout: 20)
            XCTAssertEqual(run.status, 2, run.stderr)
            XCTAssertTrue(run.stderr.contains("--name:"), run.stderr)
            XCTAssertFalse(run.stderr.contains("\r\nX-Evil"), "the name is printed escaped")
        }
        XCTAssertFalse(server.stderr.contains("X-Evil"), "nothing of a bad name reached the server")
    }
}
