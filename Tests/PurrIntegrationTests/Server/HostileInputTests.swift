import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// Thousands of random and mutated request heads against the built server: each is answered
/// 400/404/431 (or the like) or closed, a good tunnel keeps working throughout, memory stays bounded.
final class HostileInputTests: XCTestCase {
    let group = InProcessServer.group

    static func mutate(_ base: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        var bytes = base
        switch random.below(9) {
        case 0:
            return TestKit.randomPayload(count: 1 + random.below(3000), seed: random.next() | 1)
        case 1:
            for _ in 0..<(1 + random.below(8)) where !bytes.isEmpty {
                bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next())
            }
        case 2:
            bytes = Array(bytes.prefix(random.below(bytes.count)))  // truncated head
        case 3:
            let at = random.below(bytes.count)
            bytes.insert(contentsOf: Array(repeating: UInt8(ascii: "A"), count: random.below(20_000)), at: at)
        case 4:
            bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n").utf8)
        case 5:
            bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "0.1.2", with: "9.9.9").utf8)
        case 6:
            let line = Array("X-\(random.next()): \(String(repeating: "v", count: random.below(600)))\r\n".utf8)
            bytes.insert(contentsOf: line, at: max(0, bytes.count - 2))
        case 7:
            bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "GET /t", with: "GET /\(random.next())").utf8)
        default:
            bytes.insert(contentsOf: [0, 0xff, 0x0b], at: random.below(bytes.count))
        }
        return bytes
    }

    func testThousandsOfHostileHeads() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let process = try RunningProcess(
            "purr-server",
            ["--listen", "127.0.0.1:0", "--route", "/t=127.0.0.1:\(target.port)", "--header-timeout", "2", "--log-level", "error"])
        defer { process.stop() }
        XCTAssertTrue(process.waitForOutput("listening on"))
        let port = try XCTUnwrap(Int(process.stdout.split(separator: ":").last?.split(separator: "\n").first ?? ""))
        let good = try BlockingSocket(port: port)
        _ = try good.upgrade(path: "/t", port: port)
        let base = Array(UpgradeRequest(path: "/t", host: "127.0.0.1:\(port)").encoded().utf8)
        var random = SeededRandom(state: 0x5EED_1234_ABCD_0001)
        var statuses: [Int: Int] = [:]
        let baseline = try XCTUnwrap(TestKit.residentBytes(pid: process.pid))
        var peak = baseline
        for index in 0..<3000 {
            let input = Self.mutate(base, &random)
            let socket = try BlockingSocket(port: port, timeout: 5)
            try? socket.write(input)
            socket.shutdownWrite()
            var answer: [UInt8] = []
            while let chunk = try? socket.read(), !chunk.isEmpty, answer.count < 1 << 20 { answer += chunk }
            let text = String(decoding: answer.prefix(12), as: UTF8.self)
            let status = text.hasPrefix("HTTP/1.1 ") ? Int(text.dropFirst(9).prefix(3)) ?? -1 : 0
            statuses[status, default: 0] += 1
            XCTAssertTrue(
                [0, 101, 400, 401, 404, 408, 431, 502, 503].contains(status),
                "input \(index) got \(text); input began \(Array(input.prefix(40)))")
            socket.close()
            if index % 250 == 0 {
                try good.write("ping \(index)")
                XCTAssertEqual(try good.read(exactly: 5 + "\(index)".count), Array("ping \(index)".utf8), "the good tunnel keeps working")
                peak = max(peak, TestKit.residentBytes(pid: process.pid) ?? 0)
            }
        }
        XCTAssertTrue(process.process.isRunning)
        XCTAssertGreaterThan(statuses[400, default: 0], 100, "\(statuses)")
        XCTAssertGreaterThan(statuses[404, default: 0], 100, "\(statuses)")
        XCTAssertGreaterThan(statuses[431, default: 0], 10, "\(statuses)")
        XCTAssertLessThan(peak - baseline, 48 << 20, "server RSS grew \((peak - baseline) >> 20) MiB over 3000 hostile heads")
        try good.write("final")
        XCTAssertEqual(try good.read(exactly: 5), Array("final".utf8))
    }
}
