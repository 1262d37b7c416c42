import PurrTUI
import XCTest

final class FormatTests: XCTestCase {
    func testIECBytes() {
        XCTAssertEqual(Format.bytes(0), "0 B")
        XCTAssertEqual(Format.bytes(1023), "1023 B")
        XCTAssertEqual(Format.bytes(1024), "1.0 KiB")
        XCTAssertEqual(Format.bytes(12_900_000), "12.3 MiB")
        XCTAssertEqual(Format.bytes(150 * 1024 * 1024), "150 MiB")
        XCTAssertEqual(Format.bytes(3 << 30), "3.0 GiB")
        XCTAssertEqual(Format.bytes(5 << 40), "5.0 TiB")
    }

    func testRates() {
        XCTAssertEqual(Format.rate(0), "0 B/s")
        XCTAssertEqual(Format.rate(0.2), "0 B/s")
        XCTAssertEqual(Format.rate(512), "512 B/s")
        XCTAssertEqual(Format.rate(3.1 * 1024 * 1024), "3.1 MiB/s")
        XCTAssertEqual(Format.rate(.infinity), "0 B/s")
    }

    func testAges() {
        XCTAssertEqual(Format.age(42), "42s")
        XCTAssertEqual(Format.age(184), "3m04s")
        XCTAssertEqual(Format.age(7500), "2h05m")
        XCTAssertEqual(Format.age(273_600), "3d04h")
        XCTAssertEqual(Format.age(-5), "0s")
    }

    func testTruncationAndPadding() {
        XCTAssertEqual(Format.truncate("purr-tunnel", width: 6), "purr-…")
        XCTAssertEqual(Format.truncate("purr", width: 6), "purr")
        XCTAssertEqual(Format.truncate("purr", width: 0), "")
        XCTAssertEqual(Format.pad("ab", 4), "ab  ")
        XCTAssertEqual(Format.pad("abcdef", 4), "abc…")
        XCTAssertEqual(Format.padLeft("7", 3), "  7")
    }

    func testSparkline() {
        XCTAssertEqual(Sparkline.render([0, 1, 2, 4, 8], width: 5), " ▂▃▅█")
        XCTAssertEqual(Sparkline.render([8, 8], width: 4), "  ██")
        XCTAssertEqual(Sparkline.render(Array(repeating: 0, count: 3), width: 3), "   ")
        XCTAssertEqual(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8], width: 3), "▆▇█", "the most recent values")
        XCTAssertEqual(Sparkline.render([1], width: 0), "")
    }

    func testRateMeterSmoothsAndKeepsHistory() {
        var meter = RateMeter()
        var total = 0
        for step in 0...100 {
            meter.sample(total: total, at: Double(step) * 0.1)
            total += 100 * 1024  // 1000 KiB/s
        }
        XCTAssertEqual(meter.rate, 1000 * 1024, accuracy: 1000 * 1024 * 0.05)
        XCTAssertEqual(meter.history.count, 10)
        XCTAssertEqual(meter.history.last ?? 0, 1000 * 1024, accuracy: 1000 * 1024 * 0.15)
        for step in 101...200 { meter.sample(total: total, at: Double(step) * 0.1) }
        XCTAssertEqual(meter.rate, 0, "an idle tunnel decays to 0")
    }
}
