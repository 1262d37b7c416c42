import Foundation
import PurrTestSupport
import XCTest

/// `--threads N` on purr-server and purr: that many event-loop threads (NIO names them `NIO-ELT-…`), and
/// the tunnel still relays; by default one per core. Counted from /proc.
final class ThreadsFlagTests: XCTestCase {
    private func eventLoopThreads(_ process: RunningProcess) throws -> Int {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/task")
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/\(process.pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix("NIO-ELT")
        }.count
    }

    private func run(threads: [String]) async throws -> (server: Int, client: Int) {
        let target = try await TestTarget.start(.echo(banner: nil), group: InProcessServer.group)
        let port = RunningProcess.freePort()
        let server = try RunningProcess(
            "purr-server", ["--listen", "127.0.0.1:\(port)", "--route", "/e=127.0.0.1:\(target.port)"] + threads)
        defer { server.stop() }
        XCTAssertTrue(server.waitForOutput("listening"), server.stderr)
        let client = try RunningProcess("purr", ["connect", "http://127.0.0.1:\(port)/e", "--listen", "127.0.0.1:0"] + threads)
        defer { client.stop() }
        XCTAssertTrue(client.waitForOutput("listening on"), client.stderr)
        let line = client.stdout.split(separator: "\n").first { $0.hasPrefix("listening on") } ?? ""
        let local = try XCTUnwrap(Int(line.split(separator: ":").last ?? ""), client.stdout)
        for round in 0..<4 {
            let app = try BlockingSocket(port: local, timeout: 10)
            let payload = TestKit.randomPayload(count: 64 * 1024, seed: UInt64(round))
            try app.write(payload)
            XCTAssertEqual(try app.read(exactly: payload.count), payload)
            app.close()
        }
        let counts = (try eventLoopThreads(server), try eventLoopThreads(client))
        await target.stop()
        return counts
    }

    func testOneThreadEachRelays() async throws {
        let counts = try await run(threads: ["--threads", "1"])
        XCTAssertEqual(counts.server, 1)
        XCTAssertEqual(counts.client, 1)
    }

    func testByDefaultOnePerCore() async throws {
        let counts = try await run(threads: [])
        XCTAssertEqual(counts.server, ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertEqual(counts.client, ProcessInfo.processInfo.activeProcessorCount)
    }

    func testOutOfRangeIsOneLine() throws {
        for program in ["purr-server", "purr"] {
            let arguments = program == "purr" ? ["connect", "http://127.0.0.1:1/e", "--threads", "0"] : ["--threads", "0"]
            let run = try RunningProcess.run(program, arguments)
            XCTAssertEqual(run.status, 2, run.stderr)
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
            XCTAssertTrue(run.stderr.contains("--threads: 0 is out of range 1...256"), run.stderr)
        }
    }
}
