import Foundation
import XCTest

/// One fuzz target's run: how many inputs (or for how long), from which seed, and how to replay one.
///
/// - `PURR_FUZZ_SECONDS=N`: each fuzz test runs for N seconds instead of its bounded count (CI's default:
///   a count that takes a few seconds); without `PURR_FUZZ_SEED`, a long run takes a fresh seed.
/// - `PURR_FUZZ_SEED=S`: the run's seed (decimal or 0x hex); every input is made from it and its index.
/// - `PURR_FUZZ_INPUT=I`: only input I, to replay a failure (each failure message names its seed and index).
public struct FuzzRun: Sendable {
    public let name: String
    public let seed: UInt64
    public let seconds: Double?
    public let iterations: Int
    public let only: Int?

    public init(_ name: String, iterations: Int, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.name = name
        self.iterations = iterations
        seconds = environment["PURR_FUZZ_SECONDS"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil }
        only = environment["PURR_FUZZ_INPUT"].flatMap { Int($0) }
        if let text = environment["PURR_FUZZ_SEED"], let parsed = Self.parseSeed(text) {
            seed = parsed
        } else if seconds != nil {
            seed = UInt64(Date().timeIntervalSince1970 * 1e6) ^ UInt64(getpid())
        } else {
            // A fixed seed per target: CI is reproducible, and targets do not share inputs.
            seed = 0x5EED_F022_0000_0000 ^ Self.fnv(name)
        }
    }

    static func parseSeed(_ text: String) -> UInt64? {
        text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }

    static func fnv(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// The generator for input `index`: its own stream (splitmix64 of seed and index), so one input replays alone.
    public func random(for index: Int) -> SeededRandom {
        var z = seed &+ UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return SeededRandom(state: z ^ (z >> 31))
    }

    /// What a failure message names, so the input can be replayed alone.
    public func label(_ index: Int) -> String {
        "\(name) input \(index) (replay: PURR_FUZZ_SEED=\(seed) PURR_FUZZ_INPUT=\(index) swift test --filter Fuzz)"
    }

    /// Runs `body` for each input until the count (or the time) is used up; returns how many ran.
    /// `body` returns false to stop early (a failure already reported).
    @discardableResult
    public func inputs(_ body: (_ index: Int, _ random: inout SeededRandom) throws -> Bool) rethrows -> Int {
        if let only {
            var random = random(for: only)
            _ = try body(only, &random)
            return 1
        }
        let deadline = seconds.map { Date().addingTimeInterval($0) }
        var index = 0
        while deadline.map({ Date() < $0 }) ?? (index < iterations) {
            var random = random(for: index)
            index += 1
            guard try body(index - 1, &random) else { break }
        }
        print("fuzz \(name): \(index) inputs, seed \(seed)")
        return index
    }

    /// Async version of `inputs`.
    @discardableResult
    public func inputsAsync(_ body: (_ index: Int, _ random: inout SeededRandom) async throws -> Bool) async rethrows -> Int {
        if let only {
            var random = random(for: only)
            _ = try await body(only, &random)
            return 1
        }
        let deadline = seconds.map { Date().addingTimeInterval($0) }
        var index = 0
        while deadline.map({ Date() < $0 }) ?? (index < iterations) {
            var random = random(for: index)
            index += 1
            guard try await body(index - 1, &random) else { break }
        }
        print("fuzz \(name): \(index) inputs, seed \(seed)")
        return index
    }

    /// Checks that the generator reached some kind of input at least `share` of the `count` inputs run
    /// (a fuzzer that never gets past the first check tests nothing); not on the replay of one input.
    public func expect(
        _ seen: Int, atLeast share: Double, of count: Int, _ what: @autoclosure () -> String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        guard only == nil else { return }
        XCTAssertGreaterThanOrEqual(Double(seen), share * Double(count), "\(name): \(what())", file: file, line: line)
    }
}
