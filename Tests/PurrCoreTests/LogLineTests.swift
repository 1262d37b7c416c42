import Foundation
import Logging
import PurrTestSupport
import Synchronization
import XCTest

@testable import PurrCore

/// The programs' log handler writes swift-log's StreamLogHandler lines (what users and scripts read),
/// and the per-connection duration matches `%.3f`.
final class LogLineTests: XCTestCase {
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    struct Capture: TextOutputStream, Sendable {
        let lines: Lines
        mutating func write(_ string: String) { lines.all.withLock { $0.append(string) } }
    }

    func testLinesMatchStreamLogHandlersFormat() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("purr-log-\(UUID().uuidString)").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer {
            close(descriptor)
            unlink(path)
        }
        let queue = LogQueue(descriptor: descriptor)
        var ours = Logger(label: "purr") { PurrLogHandler(label: $0, queue: queue, levelSwitch: LogLevelSwitch(.info)) }
        let captured = Lines()
        var theirs = Logger(label: "purr") { StreamLogHandler(label: $0, stream: Capture(lines: captured), metadataProvider: nil) }
        for logger in [ours, theirs] { XCTAssertEqual(logger.logLevel, .info) }
        ours[metadataKey: "conn"] = "7"
        theirs[metadataKey: "conn"] = "7"
        ours.info("close", metadata: ["in": "10", "duration": "0.250s"])
        theirs.info("close", metadata: ["in": "10", "duration": "0.250s"])
        ours.debug("not at info")
        ours.logLevel = .debug
        ours.debug("now at debug")
        queue.flush()
        let written = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(written.count, 2, "\(written)")
        // The same line but for the timestamp (the first word).
        let expected = try XCTUnwrap(captured.all.withLock { $0.first })
        XCTAssertEqual(written.first?.drop { $0 != " " }, expected.dropLast().drop { $0 != " " })
        XCTAssertTrue(written.first?.hasSuffix("info purr: conn=7 duration=0.250s in=10 [PurrCoreTests] close") ?? false, written[0])
        XCTAssertTrue(written.last?.hasSuffix("[PurrCoreTests] now at debug") ?? false)
    }

    func testThreeDecimalsMatchesPrintf() {
        var random = SeededRandom(state: 3)
        var values: [Double] = [0, 0.0004, 0.0005, 0.001, 0.25, 1, 9.9995, 12.345, 999.9996, 86_400.5, -0.25, -3.0004]
        for _ in 0..<500 { values.append(Double(random.next() % 10_000_000) / 997) }
        for value in values {
            let expected = String(format: "%.3f", value)
            // printf rounds halves to even on the binary value; ours rounds the scaled value: allow the last digit only there.
            if value.threeDecimals != expected {
                XCTAssertEqual(abs((Double(value.threeDecimals) ?? .nan) - (Double(expected) ?? .nan)), 0.001, accuracy: 1e-9, "\(value)")
            }
        }
        XCTAssertEqual(0.25.threeDecimals, "0.250")
        XCTAssertEqual(12.0.threeDecimals, "12.000")
        XCTAssertEqual(0.0021.threeDecimals, "0.002")
        XCTAssertEqual((-1.5).threeDecimals, "-1.500")
    }
}
