import Foundation
import PurrCore
import PurrTestSupport
import XCTest

@testable import PurrServer

/// websockify token files made of good, bad and mutated lines: every line is an entry or one problem line,
/// lookups find exactly the first entry of a token, no problem names its token; then the built server
/// reloads such files while a good tunnel keeps relaying byte-exact.
final class TokenFileFuzzTests: XCTestCase {
    let group = InProcessServer.group

    static let dictionary: [[UInt8]] = [
        ":", "::", "[", "]", "[::1]", "#", " ", "\t", "\r", "\n", "65535", "65536", "0", "-1", "99999999999999999999", "127.0.0.1",
        "localhost", "%",
    ].map { Array($0.utf8) }

    /// A token file of 0 to 40 lines, some good, some bad in the ways a hand-edited file is, some mutated.
    static func text(_ random: inout SeededRandom, tokens: inout [String]) -> [UInt8] {
        var lines: [[UInt8]] = []
        for _ in 0..<random.below(40) {
            let token =
                random.below(5) == 0 && !tokens.isEmpty
                ? FuzzMutator.pick(tokens, &random) : FuzzMutator.word(&random, length: 8 + random.below(24))
            tokens.append(token)
            let port = FuzzMutator.pick(["5900", "1", "65535", "0", "65536", "-5", "x", "", "99999999999999999999"], &random)
            let host = FuzzMutator.pick(
                ["127.0.0.1", "[::1]", "[fd00::7]", "::1", "db.internal", "", "a b", "h\u{1b}[31m", "[::1", "é.example"], &random)
            var line: String
            switch random.below(8) {
            case 0: line = "# comment \(token)"
            case 1: line = ""
            case 2: line = "\(token) \(host):\(port)"
            case 3: line = " \t\(token)\t:  \(host):\(port) \t"
            case 4: line = "\(token): \(String(repeating: "h", count: random.below(600))):\(port)"
            default: line = "\(token): \(host):\(port)"
            }
            if random.below(6) == 0 { line += "\r" }
            var bytes = Array(line.utf8)
            if random.below(4) == 0 { bytes = FuzzMutator.mutate(bytes, &random, dictionary: dictionary, limit: 64 << 10) }
            lines.append(bytes)
        }
        var text = Array(lines.joined(separator: [0x0a]))
        if random.below(8) == 0 { text = FuzzMutator.mutate(text, &random, dictionary: dictionary) }
        return text
    }

    /// The properties of one parsed file, or the first that does not hold.
    static func problem(parsing bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        let file = TokenFile(text: text, file: "t.txt")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingASCIIWhitespace() }
        let content = lines.enumerated().filter { !$0.element.isEmpty && !$0.element.hasPrefix("#") }
        guard file.entries.count + file.problems.count == content.count else {
            return "\(content.count) lines with content gave \(file.entries.count) entries and \(file.problems.count) problems"
        }
        var seen: Set<String> = []
        for entry in file.entries {
            guard seen.insert(entry.token).inserted else { return "token of line \(entry.line) listed twice" }
            guard lines[entry.line - 1].hasPrefix(entry.token) else { return "entry of line \(entry.line) is not that line's token" }
            guard file.target(for: entry.token) == entry.target else { return "lookup of line \(entry.line)'s token finds another target" }
        }
        if file.target(for: "absent-\(UUID().uuidString)") != nil { return "a token not in the file found a target" }
        for problem in file.problems {
            guard problem.hasPrefix("t.txt:"), let number = Int(problem.dropFirst(6).prefix { $0.isNumber }),
                (1...lines.count).contains(number)
            else {
                return "problem without its line: \(problem.debugDescription)"
            }
            if let wrong = FuzzChecks.oneLineProblem(problem) { return "problem of line \(number) \(wrong): \(problem.debugDescription)" }
            let line = lines[number - 1]
            if let colon = line.firstIndex(of: ":") {
                let token = line[..<colon].trimmingASCIIWhitespace()
                let rest = String(line[colon...])
                if token.count >= 8, !rest.contains(token), problem.contains(token) { return "problem of line \(number) shows its token" }
            }
        }
        return nil
    }

    func testTokenFileLinesInProcess() {
        let run = FuzzRun("token-file", iterations: 800)
        var entries = 0
        var problems = 0
        let count = run.inputs { index, random in
            var tokens: [String] = []
            let bytes = Self.text(&random, tokens: &tokens)
            if let problem = Self.problem(parsing: bytes) {
                XCTFail("\(run.label(index)): \(problem); file began \(FuzzChecks.show(bytes))")
                return false
            }
            let file = TokenFile(text: String(decoding: bytes, as: UTF8.self), file: "t.txt")
            entries += file.entries.count
            problems += file.problems.count
            return true
        }
        run.expect(entries, atLeast: 0.5, of: count, "good lines")
        run.expect(problems, atLeast: 0.5, of: count, "bad lines")
    }

    /// The built server reloads each fuzzed file (written by rename, as a deploy does); presented tokens get
    /// 101 only for the good line, any other answer is a refusal; the good tunnel and the server hold.
    func testTokenFilesReloadedByTheBuiltServer() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("purr-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let tokens = folder.appendingPathComponent("tokens.txt")
        let good = "good-\(UUID().uuidString)"
        let goodLine = Array("\(good): 127.0.0.1:\(target.port)\n".utf8)
        try Data(goodLine).write(to: tokens)
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/t"
                token_file = "tokens.txt"
                allow = ["127.0.0.1:\(target.port)"]
                """, in: folder)
        defer { server.stop() }
        let beside = try BlockingSocket(port: port, timeout: 15)
        XCTAssertTrue(try beside.upgrade(path: "/t", port: port, token: good).head.hasPrefix("HTTP/1.1 101"))
        let run = FuzzRun("token-file-server", iterations: 120)
        let watch = BesideWatch(beside: beside, pid: server.pid)
        var answers: [Int: Int] = [:]
        let count = try run.inputs { index, random in
            var presented: [String] = []
            var bytes = Self.text(&random, tokens: &presented)
            // Mostly UTF-8 (other files are refused whole, tested too, but then the good line is not read).
            if random.below(4) != 0 { bytes = Array(String(decoding: bytes, as: UTF8.self).utf8) }
            // The good line first or last, on a line of its own.
            if random.below(2) == 0 { bytes.insert(contentsOf: goodLine, at: 0) } else { bytes += [0x0a] + goodLine }
            try Data(bytes).write(to: tokens, options: .atomic)
            // A file that is not UTF-8 is not read: every token is refused until it is fixed.
            let text = String(data: Data(bytes), encoding: .utf8)
            let file = text.map { TokenFile(text: $0, file: "t") }
            for token in [good] + presented.prefix(3) {
                let expected = file?.target(for: token)
                let socket = try BlockingSocket(port: port, timeout: 15)
                defer { socket.close() }
                let (head, _) = try socket.upgrade(path: "/t", port: port, token: token)
                let status = Int(head.dropFirst(9).prefix(3)) ?? -1
                answers[status, default: 0] += 1
                if expected == HostPort(host: "127.0.0.1", port: target.port) {
                    guard status == 101 else {
                        XCTFail(
                            "\(run.label(index)): a token of the file got \(head.prefix(60).debugDescription); \(server.stderr.suffix(600))"
                        )
                        return false
                    }
                    let payload = TestKit.randomPayload(count: 4096, seed: random.next() | 1)
                    try socket.write(payload)
                    XCTAssertEqual(try socket.read(exactly: payload.count), payload, run.label(index))
                } else if ![400, 401, 403].contains(status) {
                    XCTFail("\(run.label(index)): token \(token.debugDescription) got \(head.prefix(60).debugDescription)")
                    return false
                }
            }
            try watch.sample(index, run.label(index))
            return server.process.isRunning
        }
        XCTAssertTrue(server.process.isRunning, server.stderr)
        XCTAssertFalse(server.stderr.contains("\u{1b}"), "an escape sequence from a token file reached the log")
        run.expect(answers[101, default: 0], atLeast: 0.3, of: count, "101s: \(answers)")
        run.expect(answers[403, default: 0], atLeast: 0.3, of: count, "403s: \(answers)")
        print("fuzz token-file-server: answers \(answers), \(watch.memory("server"))")
        try watch.finish(seed: 7)
    }
}
