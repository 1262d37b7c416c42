import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTUI
import PurrTestSupport
import XCTest

/// Parsers of files and frames fed damaged input: a clear error or a clean exit, never a crash.
final class HostileFileTests: XCTestCase {
    static let tunnels = """
        theme = "light"

        [[tunnels]]
        name = "ssh"
        url = "http://purr.example.com:8080/ssh"
        listen = "localhost:2222"
        token = "t"
        headers = { "X-A" = "b" }
        autostart = true
        idle_timeout = 60

        [[servers]]
        name = "prod"
        admin_url = "http://127.0.0.1:9090"
        """

    static let server = """
        listen = "127.0.0.1:8080"
        max_connections = 100
        [admin]
        port = 9090
        [[routes]]
        path = "/ssh"
        target = "127.0.0.1:22"
        max_connections = 4
        """

    func testEveryTruncationOfTheConfigFilesIsParsedOrRefusedInWords() throws {
        for (text, parse) in [
            (Self.tunnels, { (t: String) throws -> Void in _ = try TunnelsFile.parse(t, file: "tunnels.toml") }),
            (
                Self.server,
                { (t: String) throws -> Void in
                    let path = FileManager.default.temporaryDirectory.appendingPathComponent("s-\(UUID().uuidString).toml").path
                    try t.write(toFile: path, atomically: true, encoding: .utf8)
                    _ = try ServerConfig.load(file: path)
                }
            ),
        ] {
            let scalars = Array(text.unicodeScalars)
            for length in 0...scalars.count {
                var prefix = ""
                prefix.unicodeScalars.append(contentsOf: scalars.prefix(length))
                do {
                    try parse(prefix)
                } catch let error as ConfigError {
                    XCTAssertFalse(error.message.contains("\n"), "one line: \(error.message)")
                    XCTAssertFalse(error.message.isEmpty)
                }
            }
        }
    }

    func testWrongTypesAndHugeValues() {
        let cases: [(String, String)] = [
            ("[[tunnels]]\nname = 5\nurl = \"http://x/\"", "tunnels[0].name: expected a string"),
            ("[[tunnels]]\nname = \"a\"\nurl = \"http://x/\"\nidle_timeout = 1e300", "tunnels[0].idle_timeout"),
            ("[[tunnels]]\nname = \"a\"\nurl = \"http://x/\"\nlisten = \"127.0.0.1:99999999999999999999\"", "tunnels[0].listen"),
            ("[[tunnels]]\nname = \"a\"\nurl = \"http://x/\"\nheaders = [1, 2]", "tunnels[0].headers: expected a table"),
            ("[[servers]]\nname = \"s\"\nadmin_url = 42", "servers[0].admin_url: expected a string"),
            ("theme = [\"a\"]", "theme: expected a string"),
            ("[[tunnels]]\nname = \"\(String(repeating: "n", count: 100_000))\"\nurl = \"http://x/\"", "tunnels[0].name: must be one line"),
            ("[[tunnels]]\nname = \"n\"\nurl = \"http://\(String(repeating: "h", count: 70_000)):1/\"", "tunnels[0].url: 'http://hhh"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try TunnelsFile.parse(text, file: "t.toml"), expected) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }

    func testEveryTruncationAndByteFlipOfAThemeIsParsedOrRefused() throws {
        let text = try String(contentsOfFile: ThemeFiles.path("default"), encoding: .utf8)
        let scalars = Array(text.unicodeScalars)
        for length in stride(from: 0, through: scalars.count, by: 7) {
            var prefix = ""
            prefix.unicodeScalars.append(contentsOf: scalars.prefix(length))
            _ = try? Theme.parse(prefix, name: "t", file: "t.theme")
        }
        var bytes = Array(text.utf8)
        for index in stride(from: 0, to: bytes.count, by: 13) {
            let original = bytes[index]
            bytes[index] = UInt8(truncatingIfNeeded: index &* 31)
            do {
                _ = try Theme.parse(String(decoding: bytes, as: UTF8.self), name: "t", file: "t.theme")
            } catch {
                XCTAssertTrue("\(error)".hasPrefix("t.theme"), "\(error)")
            }
            bytes[index] = original
        }
    }

    func testRandomNativeHostFramesNeverCrashTheHost() throws {
        let process = try RunningProcess("purr", ["native-host"])
        defer { process.stop() }
        var random = SeededRandom(state: 42)
        let writer = process.stdinPipe.fileHandleForWriting
        let samples: [String] = [
            #"{"src":1,"seq":1,"cmd":"open","args":{"url":["x"]}}"#, #"{"src":{},"seq":[],"cmd":"status"}"#,
            #"{"cmd":"close","args":{"port":-1}}"#, #"{"cmd":"close","args":{"port":1e99}}"#, "null", "\"str\"", "{}",
            #"{"src":1,"seq":1,"cmd":"open","args":{"url":"http://[::1"}}"#, "{\"cmd\":\"" + String(repeating: "x", count: 100_000) + "\"}",
        ]
        for index in 0..<400 {
            let payload: [UInt8] =
                index % 3 == 0
                ? Array(samples[random.below(samples.count)].utf8)
                : TestKit.randomPayload(count: random.below(300), seed: random.next() | 1)
            try writer.write(contentsOf: Data(NativeMessageFramer.frame(payload)))
        }
        let exit = #"{"cmd":"exit","origin":"chrome-extension://\#(NativeHostManifest.chromeExtensionID)"}"#
        try writer.write(contentsOf: Data(NativeMessageFramer.frame(Array(exit.utf8))))
        XCTAssertEqual(process.waitForExit(timeout: 30), 0, process.stderr)
        let output = Array((try? Data(contentsOf: process.stdoutURL)) ?? Data())
        var offset = 0
        var replies = 0
        while offset + 4 <= output.count {
            let length = Int(output[offset]) | Int(output[offset + 1]) << 8 | Int(output[offset + 2]) << 16 | Int(output[offset + 3]) << 24
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(output[(offset + 4)..<(offset + 4 + length)])))
            offset += 4 + length
            replies += 1
        }
        XCTAssertEqual(replies, 400, "one well-framed reply per message")
    }
}

/// Where the repository's theme files are.
enum ThemeFiles {
    static func path(_ name: String) -> String {
        RepositoryPaths.root.appendingPathComponent("themes/\(name).theme").path
    }
}
