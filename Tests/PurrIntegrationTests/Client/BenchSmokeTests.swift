import Foundation
import PurrTestSupport
import XCTest

/// `purr-bench connect` and `rate` end to end with tiny counts: every path (direct, the bench's own
/// two-hop relay, nginx's stream module over two hops, Purr) answers and nothing fails. Correctness
/// only: the figures are not judged (speed lives in the bench itself).
final class BenchSmokeTests: XCTestCase {
    func testConnectAndRateMeasureEveryPath() throws {
        let (report, stderr) = try runBench([
            "connect", "rate", "--connect-count", "20", "--rate-seconds", "0.3", "--clients", "2", "--no-redis",
        ])
        XCTAssertEqual(report.notes, [], stderr)
        for workload in ["connect", "rate"] {
            let rows = report.rows.filter { $0.workload == workload }
            for path in ["own 2-hop relay", "nginx 2-hop", "purr"] {
                let row = rows.first { $0.metric.hasSuffix(", \(path)") }
                XCTAssertNotNil(row, "\(workload): no row for \(path) in \(rows.map(\.metric))")
                XCTAssertGreaterThan(row?.tunnel ?? 0, 0, "\(workload), \(path)")
                XCTAssertGreaterThan(row?.direct ?? 0, 0, "\(workload), \(path)")
            }
            let purr = rows.first { $0.metric.hasSuffix(", purr") }
            XCTAssertNotNil(purr?.vsRelay, "\(workload): Purr ÷ the own two-hop relay")
            XCTAssertNotNil(purr?.vsNginx, "\(workload): Purr ÷ nginx's two hops")
            let note = purr?.note ?? ""
            XCTAssertFalse(note.contains("failed") || note.contains("no nginx"), "\(workload): \(note)")
        }
    }

    /// `--pool N` reaches the tunnel's config as `pool = N` (the tunnels file `purr up` is given).
    func testPoolOptionIsWrittenToTheTunnelConfig() throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("purr-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: temporary) }
        let (report, stderr) = try runBench(["connect", "--connect-count", "5", "--pool", "2"], temporary: temporary)
        let toml = try String(contentsOf: temporary.appendingPathComponent("purr-bench-connect-tunnels.toml"), encoding: .utf8)
        XCTAssertTrue(toml.contains("pool = 2"), toml)
        let purr = report.rows.first { $0.workload == "connect" && $0.metric.hasSuffix("p50, purr") }
        XCTAssertNotNil(purr, "\(report.notes) \(stderr)")
        XCTAssertEqual(purr?.note, "purr with pool = 2")
        XCTAssertGreaterThan(purr?.tunnel ?? 0, 0)
    }

    /// `connect --socks5`: a dynamic tunnel's SOCKS5 port against a fixed tunnel on the same server.
    func testConnectSocks5IsMeasuredAgainstTheFixedTunnel() throws {
        let (report, stderr) = try runBench(["connect", "--socks5", "--connect-count", "20"])
        XCTAssertEqual(report.notes, [], stderr)
        for suffix in ["p50: fixed → socks5", "p99: fixed → socks5", "p50: fixed → socks5 pipelined"] {
            let row = report.rows.first { $0.workload == "connect" && $0.metric.hasSuffix(suffix) }
            XCTAssertNotNil(row, "no '\(suffix)' row in \(report.rows.map(\.metric)) \(stderr)")
            XCTAssertGreaterThan(row?.direct ?? 0, 0, "the fixed tunnel of the same run, \(suffix)")
            XCTAssertGreaterThan(row?.tunnel ?? 0, 0, suffix)
            XCTAssertNotNil(row?.ratio, suffix)
        }
        // Without the flag there is no such row.
        let (plain, _) = try runBench(["connect", "--connect-count", "5"])
        XCTAssertFalse(plain.rows.contains { $0.metric.contains("socks5") })
    }

    func testBadOptionsAreRefusedInOneLine() throws {
        for (arguments, flag) in [
            (["rate", "--pool", "99"], "--pool"), (["rate", "--rate-seconds", "0"], "--rate-seconds"),
            (["rate", "--clients", "0"], "--clients"), (["connect", "--connect-count", "0"], "--connect-count"),
            (["connect", "--tunnel-log-level", "loud"], "--tunnel-log-level"),
        ] {
            let result = try RunningProcess.run("purr-bench", arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(flag), "\(arguments): \(result.stderr)")
        }
    }

    /// The parts of purr-bench's JSON report the tests read.
    struct Report: Decodable {
        struct Row: Decodable {
            let workload: String
            let metric: String
            let direct: Double?
            let tunnel: Double?
            let ratio: Double?
            let vsRelay: Double?
            let vsNginx: Double?
            let note: String?
        }
        let rows: [Row]
        let notes: [String]
    }

    private func runBench(_ arguments: [String], temporary: URL? = nil) throws -> (Report, String) {
        let environment = temporary.map { ["TMPDIR": $0.path] } ?? [:]
        let result = try RunningProcess.run("purr-bench", arguments + ["--json"], environment: environment, timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        return (report, result.stderr)
    }
}
