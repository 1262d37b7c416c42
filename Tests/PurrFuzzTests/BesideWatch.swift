import Foundation
import PurrTestSupport
import XCTest

/// What every fuzz run against a built program checks as it goes: the good tunnel beside the fuzzed
/// connections stays byte-exact, and the program's memory (from /proc) stays bounded.
final class BesideWatch {
    let beside: BlockingSocket
    let pid: Int32
    private var baseline: Int?
    private var peak = 0

    init(beside: BlockingSocket, pid: Int32) {
        self.beside = beside
        self.pid = pid
    }

    /// Every 25th input: 64 KiB through the good tunnel, and the program's RSS noted.
    func sample(_ index: Int, _ label: String) throws {
        guard index % 25 == 0 else { return }
        let payload = TestKit.randomPayload(count: 64 << 10, seed: UInt64(index + 1))
        try beside.write(payload)
        XCTAssertEqual(TestKit.sha256(try beside.read(exactly: payload.count)), TestKit.sha256(payload), "the good tunnel, \(label)")
        let rss = TestKit.residentBytes(pid: pid) ?? 0
        if baseline == nil { baseline = rss }
        peak = max(peak, rss)
    }

    /// `what RSS a -> b MiB`; fails when it grew 32 MiB or more.
    func memory(_ what: String) -> String {
        let grown = peak - (baseline ?? peak)
        XCTAssertLessThan(grown, 32 << 20, "\(what) RSS grew \(grown >> 20) MiB")
        return "\(what) RSS \((baseline ?? 0) >> 20) -> \(peak >> 20) MiB"
    }

    /// 1 MiB through the good tunnel once the run is over.
    func finish(seed: UInt64) throws {
        let payload = TestKit.randomPayload(count: 1 << 20, seed: seed)
        try beside.write(payload)
        XCTAssertEqual(TestKit.sha256(try beside.read(exactly: payload.count)), TestKit.sha256(payload), "the good tunnel at the end")
    }
}
