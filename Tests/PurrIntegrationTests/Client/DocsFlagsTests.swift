import Foundation
import PurrTestSupport
import XCTest

/// Keeps the user docs (README.md, docs/*.md) honest against the built programs: every `--flag` the
/// docs name exists in some command, every option a command shows is documented, every key in a
/// TOML example is one the code reads, and every link between the pages leads to a page and heading.
final class DocsFlagsTests: XCTestCase {
    /// The programs whose options the docs describe (their argument parsers, through ArgumentParser's
    /// `--experimental-dump-help`, which lists every subcommand too).
    static let programs = ["purr", "purr-server", "purr-tui", "purr-bench"]

    /// Flags of other programs that the docs show in commands, with the program they belong to.
    static let otherPrograms: [String: String] = [
        "--build-tests": "swift build", "--skip-build": "swift test", "--disable-swift-testing": "swift test",
        "--filter": "swift test", "--product": "swift build", "--static-swift-stdlib": "swift build",
        "--show-bin-path": "swift build", "--strict": "swift format lint",
        "--generate-completion-script": "ArgumentParser (every program)",
        "--experimental-dump-help": "ArgumentParser (every program)",
        "--socks5-hostname": "curl", "--proxy-negotiate": "curl", "--proxy-ntlm": "curl", "--proxy-basic": "curl",
        "--proxy-server": "chromium", "--load-extension": "chromium",
        "--now": "systemctl", "--user": "systemctl", "--system": "useradd", "--no-create-home": "useradd",
        "--net": "unshare",
        "--http": "purr-embed-example (reads its own arguments)", "--purr": "purr-embed-example (reads its own arguments)",
    ]

    static var repositoryRoot: URL { RepositoryPaths.root }

    /// README.md and every page under docs/, by their path in the repository.
    static func documents() throws -> [(name: String, text: String)] {
        let root = repositoryRoot
        let docs = root.appendingPathComponent("docs")
        let pages = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
        var result = [(name: "README.md", text: try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8))]
        for page in pages {
            result.append((name: "docs/\(page)", text: try String(contentsOf: docs.appendingPathComponent(page), encoding: .utf8)))
        }
        return result
    }

    /// Every `--flag` in `text` (not a part of a longer word, not a `---` table rule).
    static func flags(in text: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: "(?<![\\w-])--[a-z][a-z0-9-]*")
        let range = NSRange(text.startIndex..., in: text)
        return Set(pattern.matches(in: text, range: range).compactMap { Range($0.range, in: text).map { String(text[$0]) } })
    }

    struct Option {
        let flag: String
        let shown: Bool
        let command: String
    }

    /// The long options of every program and subcommand, from the built binaries.
    static func options() throws -> [Option] {
        var result: [Option] = []
        for program in programs {
            let run = try RunningProcess.run(program, ["--experimental-dump-help"])
            guard run.status == 0, let data = run.stdout.data(using: .utf8),
                let dump = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let command = dump["command"] as? [String: Any]
            else {
                throw BlockingSocket.Failure(description: "\(program) --experimental-dump-help: status \(run.status): \(run.stderr)")
            }
            collect(command, path: program, into: &result)
        }
        return result
    }

    static func collect(_ command: [String: Any], path: String, into result: inout [Option]) {
        for argument in command["arguments"] as? [[String: Any]] ?? [] {
            let shown = argument["shouldDisplay"] as? Bool ?? true
            for name in argument["names"] as? [[String: Any]] ?? [] where name["kind"] as? String == "long" {
                if let flag = name["name"] as? String { result.append(Option(flag: "--\(flag)", shown: shown, command: path)) }
            }
        }
        for sub in command["subcommands"] as? [[String: Any]] ?? [] {
            let name = sub["commandName"] as? String ?? "?"
            if name != "help" { collect(sub, path: "\(path) \(name)", into: &result) }
        }
    }

    func testEveryFlagTheDocsNameExists() throws {
        let known = Set(try Self.options().map(\.flag)).union(Self.otherPrograms.keys)
        var unknown: [String] = []
        for document in try Self.documents() {
            for flag in Self.flags(in: document.text).sorted() where !known.contains(flag) {
                unknown.append("\(document.name): \(flag)")
            }
        }
        XCTAssertEqual(
            unknown, [],
            "flags the docs name that no command has (a renamed or removed flag; another program's: add it to otherPrograms)")
    }

    func testEveryOptionShownIsDocumented() throws {
        var documented = Set<String>()
        for document in try Self.documents() { documented.formUnion(Self.flags(in: document.text)) }
        // -H is documented by its short name.
        documented.insert("--header")
        let missing = try Self.options().filter { $0.shown && $0.flag != "--help" && !documented.contains($0.flag) }
        XCTAssertEqual(missing.map { "\($0.command) \($0.flag)" }, [], "options no page of README.md or docs/ mentions")
    }

    /// `key = value` lines of the ```toml blocks (comments skipped).
    static func tomlKeys(in text: String) -> Set<String> {
        var keys = Set<String>()
        var inTOML = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inTOML = trimmed == "```toml"
                continue
            }
            guard inTOML, !trimmed.hasPrefix("#"), !trimmed.hasPrefix("["), let eq = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces)
            if !key.isEmpty, key.allSatisfy({ $0.isLowercase || $0 == "_" }) { keys.insert(key) }
        }
        return keys
    }

    func testEveryConfigKeyInTheDocsIsReadByTheCode() throws {
        let sources = Self.repositoryRoot.appendingPathComponent("Sources")
        var code = ""
        let files = FileManager.default.enumerator(atPath: sources.path)
        while let file = files?.nextObject() as? String {
            if file.hasSuffix(".swift") { code += try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8) }
        }
        var unread: [String] = []
        var seen = 0
        for document in try Self.documents() {
            for key in Self.tomlKeys(in: document.text).sorted() {
                seen += 1
                if !code.contains("\"\(key)\"") { unread.append("\(document.name): \(key)") }
            }
        }
        XCTAssertGreaterThan(seen, 30, "the docs' TOML examples were not found")
        XCTAssertEqual(unread, [], "keys in the docs' TOML examples that no source file reads")
    }

    /// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
    static func anchor(_ heading: String) -> String {
        String(
            heading.lowercased().unicodeScalars.compactMap { scalar -> Character? in
                if scalar == " " { return "-" }
                if scalar == "-" || scalar == "_" || CharacterSet.alphanumerics.contains(scalar) { return Character(scalar) }
                return nil
            })
    }

    /// The anchors of a page: its headings (outside code blocks) and `<a id="...">` marks.
    static func anchors(in text: String) -> Set<String> {
        var result = Set<String>()
        var inCode = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCode.toggle() }
            if inCode { continue }
            if line.hasPrefix("#"), let space = line.firstIndex(of: " ") {
                result.insert(anchor(String(line[line.index(after: space)...]).trimmingCharacters(in: .whitespaces)))
            }
            var rest = line[...]
            while let mark = rest.range(of: "<a id=\""), let end = rest[mark.upperBound...].firstIndex(of: "\"") {
                result.insert(String(rest[mark.upperBound..<end]))
                rest = rest[end...].dropFirst()
            }
        }
        return result
    }

    func testEveryLinkBetweenThePagesResolves() throws {
        let documents = try Self.documents()
        let pattern = try NSRegularExpression(pattern: "\\]\\(([^)\\s]+)\\)")
        var broken: [String] = []
        var checked = 0
        for document in documents {
            // Links inside code blocks are code, not links.
            let pieces = document.text.components(separatedBy: "```")
            let prose = pieces.enumerated().filter { $0.offset % 2 == 0 }.map(\.element).joined()
            let directory = (document.name as NSString).deletingLastPathComponent
            for match in pattern.matches(in: prose, range: NSRange(prose.startIndex..., in: prose)) {
                guard let range = Range(match.range(at: 1), in: prose) else { continue }
                let link = String(prose[range])
                if link.hasPrefix("http://") || link.hasPrefix("https://") { continue }
                checked += 1
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let file =
                    parts[0].isEmpty
                    ? Self.repositoryRoot.appendingPathComponent(document.name)
                    : Self.repositoryRoot.appendingPathComponent(directory).appendingPathComponent(parts[0]).standardized
                guard FileManager.default.fileExists(atPath: file.path) else {
                    broken.append("\(document.name): \(link): no such file")
                    continue
                }
                guard parts.count == 2, file.pathExtension == "md" else { continue }
                let target = try String(contentsOf: file, encoding: .utf8)
                if !Self.anchors(in: target).contains(parts[1]) { broken.append("\(document.name): \(link): no such heading") }
            }
        }
        XCTAssertGreaterThan(checked, 20, "the pages' links were not found")
        XCTAssertEqual(broken, [], "links between README.md and docs/ that lead nowhere")
    }
}
