import Foundation
import PurrCore
import PurrServer
import PurrTestSupport
import Synchronization
import XCTest

@testable import PurrClient

/// Native Messaging input, framed and unframed, from a page or an extension: the framer reads exactly the
/// frames a test reader finds, every message gets one reply (JSON with `dst` and `seq`, a status or an
/// error); then the built `purr native-host` with a good tunnel open beside it, byte-exact throughout.
final class NativeMessageFuzzTests: XCTestCase {
    let group = InProcessServer.group

    static let dictionary: [[UInt8]] = [
        "{", "}", "[", "]", "\"", ":", ",", "null", "true", "1e309", "-0", "\\u0000", "\\ud800", "\"cmd\"", "\"args\"", "\"origin\"",
        "\"open\"", "\"close-tab\"", "\"allow\"", "\"url\"", "\"port\"", "99999999999999999999",
    ].map { Array($0.utf8) }

    /// A message as the extension sends one, with odd values, sometimes mutated bytes.
    static func message(_ random: inout SeededRandom, server: Int) -> [UInt8] {
        let commands = ["open", "close", "status", "tunnels", "close-tab", "origins", "allow", "revoke", "fly", ""]
        let origins = [
            "\"http://127.0.0.1:8000\"", "\"chrome-extension://abcdefghijklmnop\"", "\"https://evil.example\"", "null", "5", "[]",
            "\"\(String(repeating: "o", count: random.below(3000)))\"",
        ]
        let urls = [
            "http://127.0.0.1:\(server)/t", "http://127.0.0.1:\(server)/t?token=abc", "http://127.0.0.1:\(server)/t?token=a%0d%0aX:%20y",
            "ws://[::1]:\(server)/t", "nope", "", "http://127.0.0.1:0/t", "http://127.0.0.1:\(server)/t?token=",
        ]
        let args = [
            "{\"url\":\"\(FuzzMutator.pick(urls, &random))\"}", "{\"url\":5}", "{\"port\":\(random.below(70000))}", "{\"port\":\"x\"}",
            "{\"origin\":\"http://127.0.0.1:*\"}", "{\"origin\":\"*\"}", "{\"tab\":{\"a\":[1,2]}}", "[]", "null",
            "{\"url\":\"http://127.0.0.1:\(server)/t\",\"upgrade\":\"\(FuzzMutator.pick(["websocket", "purr", "h2"], &random))\"}",
        ]
        var fields: [String] = []
        if random.below(10) != 0 {
            fields.append("\"src\":\(FuzzMutator.pick(["1", "2", "\"tab-3\"", "{\"t\":4}", "null", "1.5"], &random))")
        }
        if random.below(10) != 0 { fields.append("\"seq\":\"s\(random.below(1000))\"") }
        if random.below(10) != 0 { fields.append("\"cmd\":\"\(FuzzMutator.pick(commands, &random))\"") }
        if random.below(2) == 0 { fields.append("\"args\":\(FuzzMutator.pick(args, &random))") }
        if random.below(6) != 0 { fields.append("\"origin\":\(FuzzMutator.pick(origins, &random))") }
        var bytes = Array("{\(fields.joined(separator: ","))}".utf8)
        if random.below(3) == 0 { bytes = FuzzMutator.mutate(bytes, &random, dictionary: dictionary, limit: 200_000) }
        return bytes
    }

    /// Whether a message could end the host (`exit`, however spelled): left out, the host is meant to stop.
    static func mayExit(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self).lowercased()
        return text.contains("exit") || text.contains("\\u")
    }

    /// Nil when `reply` is one framed JSON object with `dst`, `seq` and a status or an error; else what is wrong.
    static func replyProblem(_ frame: [UInt8], to message: [UInt8]) -> String? {
        guard frame.count >= 4 else { return "no reply" }
        let length = Int(frame[0]) | Int(frame[1]) << 8 | Int(frame[2]) << 16 | Int(frame[3]) << 24
        guard length == frame.count - 4 else { return "reply length \(length) for \(frame.count - 4) bytes" }
        guard let reply = try? JSONSerialization.jsonObject(with: Data(frame.dropFirst(4))) as? [String: Any] else {
            return "reply is not a JSON object"
        }
        guard reply.keys.contains("dst"), reply.keys.contains("seq") else { return "reply without dst and seq: \(reply.keys.sorted())" }
        guard (reply["status"] != nil) != (reply["error"] != nil) else { return "reply needs a status or an error: \(reply.keys.sorted())" }
        if let sent = try? JSONSerialization.jsonObject(with: Data(message)) as? [String: Any], let seq = sent["seq"] as? String {
            guard reply["seq"] as? String == seq else { return "seq \(seq) came back as \(String(describing: reply["seq"]))" }
        }
        if let error = reply["error"] as? String, let wrong = FuzzChecks.oneLineProblem(error, limit: 4000) { return "the error \(wrong)" }
        return nil
    }

    /// Random streams of frames (lengths true, short, over the limit): messages come out exactly as framed
    /// until the first frame that is not one, never past the input.
    func testFramerInProcess() {
        let run = FuzzRun("native-framer", iterations: 5000)
        run.inputs { index, random in
            var stream: [UInt8] = []
            var framed: [[UInt8]] = []
            for _ in 0..<random.below(6) {
                let body = FuzzMutator.noise(&random, maximum: random.below(4) == 0 ? 5000 : 60)
                framed.append(body)
                stream += NativeMessageFramer.frame(body)
            }
            // Then something that is not a whole frame, sometimes: a length over the limit, one past the end, a cut header.
            switch random.below(5) {
            case 0: stream += NativeMessageFramer.frame([]).prefix(random.below(4))
            case 1: stream += [0xff, 0xff, 0xff, 0xff] + FuzzMutator.noise(&random, maximum: 40)
            case 2: stream += [0x01, 0x00, 0x10, 0x00]
            case 3: stream += [UInt8(random.below(200) + 10), 0, 0, 0] + FuzzMutator.noise(&random, maximum: 9)
            default: break
            }
            var at = 0
            var read: [[UInt8]] = []
            while read.count <= framed.count {
                let result = NativeMessageFramer.readFrame { count in
                    let end = min(stream.count, at + max(0, count))
                    defer { at = end }
                    return Array(stream[at..<end])
                }
                guard case .message(let body) = result else { break }
                read.append(body)
            }
            guard read.count >= framed.count, Array(read.prefix(framed.count)) == framed, at <= stream.count else {
                XCTFail("\(run.label(index)): read \(read.count) messages of \(framed.count) framed")
                return false
            }
            return true
        }
    }

    /// Every message handled by the host in this process gets exactly one well-formed reply.
    func testMessagesInProcess() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("purr-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let tunnels = folder.appendingPathComponent("tunnels.toml").path
        try "[browser]\nallowed_origins = [\"http://127.0.0.1:8000\"]\n".write(toFile: tunnels, atomically: true, encoding: .utf8)
        let server = try await InProcessServer.start(routes: [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: 9))])
        let engine = TunnelEngine(group: group)
        let written = Mutex<[[UInt8]]>([])
        let host = NativeHost(engine: engine, tunnelsFile: tunnels) { frame in written.withLock { $0.append(frame) } }
        let run = FuzzRun("native-messages", iterations: 1500)
        var errors = 0
        await run.inputsAsync { index, random in
            let message = Self.message(&random, server: server.port)
            if Self.mayExit(message) { return true }
            written.withLock { $0 = [] }
            _ = await host.handle(message)
            let replies = written.withLock { $0 }
            guard replies.count == 1 else {
                XCTFail("\(run.label(index)): \(replies.count) replies to \(FuzzChecks.show(message))")
                return false
            }
            if let problem = Self.replyProblem(replies[0], to: message) {
                XCTFail("\(run.label(index)): \(problem); message \(FuzzChecks.show(message))")
                return false
            }
            if String(decoding: replies[0], as: UTF8.self).contains("\"error\"") { errors += 1 }
            // Tunnels opened by the fuzz are closed again: the test measures the host, not how many it holds.
            if index % 50 == 0 {
                for tab in ["1", "2", "\"tab-3\"", "{\"t\":4}", "null", "1.5"] {
                    _ = await host.handle(Array("{\"src\":\(tab),\"seq\":0,\"cmd\":\"close-tab\"}".utf8))
                }
            }
            return true
        }
        XCTAssertGreaterThan(errors, 0)
        await engine.shutdown()
        await server.shutdown(drainTimeout: 0)
    }

    /// `purr native-host` as the browser runs it, read frame by frame from its standard output.
    final class HostProcess {
        let process: RunningProcess
        var consumed = 0

        init(config: String) throws {
            process = try RunningProcess("purr", ["native-host", "--config", config])
        }

        func send(_ bytes: [UInt8]) throws {
            try process.stdinPipe.fileHandleForWriting.write(contentsOf: Data(NativeMessageFramer.frame(bytes)))
        }

        /// The next reply, length prefix included; nil when none comes in time.
        func receive(timeout: Double = 10) -> [UInt8]? {
            var frame: [UInt8]?
            TestKit.poll(timeout: timeout) {
                let data = Array((try? Data(contentsOf: process.stdoutURL)) ?? Data())
                guard data.count >= consumed + 4 else { return false }
                let length =
                    Int(data[consumed]) | Int(data[consumed + 1]) << 8 | Int(data[consumed + 2]) << 16 | Int(data[consumed + 3]) << 24
                guard data.count >= consumed + 4 + length else { return false }
                frame = Array(data[consumed..<(consumed + 4 + length)])
                consumed += 4 + length
                return true
            }
            return frame
        }
    }

    /// A host with an allowed origin, a server with an echo route, and a tunnel opened through the host.
    func startHost() async throws -> (HostProcess, tunnel: BlockingSocket, server: Int, cleanup: () async -> Void) {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))]
        )
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("purr-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let tunnels = folder.appendingPathComponent("tunnels.toml").path
        try "[browser]\nallowed_origins = [\"http://127.0.0.1:8000\"]\n".write(toFile: tunnels, atomically: true, encoding: .utf8)
        let host = try HostProcess(config: tunnels)
        try host.send(
            Array(
                #"{"src":"good-tab","seq":"g","cmd":"open","origin":"http://127.0.0.1:8000","args":{"url":"http://127.0.0.1:\#(server.port)/t"}}"#
                    .utf8))
        let opened = try XCTUnwrap(host.receive(), host.process.stderr)
        let reply = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(opened.dropFirst(4))) as? [String: Any])
        let port = try XCTUnwrap(reply["args"] as? Int, "\(reply)")
        let tunnel = try BlockingSocket(port: port, timeout: 15)
        return (
            host, tunnel, server.port,
            {
                host.process.stop()
                await server.shutdown(drainTimeout: 0)
            }
        )
    }

    static func checkTunnel(_ tunnel: BlockingSocket, size: Int, seed: UInt64, _ label: String) throws {
        let payload = TestKit.randomPayload(count: size, seed: seed | 1)
        try tunnel.write(payload)
        XCTAssertEqual(TestKit.sha256(try tunnel.read(exactly: payload.count)), TestKit.sha256(payload), "the good tunnel, \(label)")
    }

    /// Fuzzed messages to the built host: one reply each, the host and the good tunnel go on, memory bounded.
    func testMessagesToTheBuiltHost() async throws {
        let (host, tunnel, serverPort, cleanup) = try await startHost()
        defer { tunnel.close() }
        let run = FuzzRun("native-host", iterations: 300)
        var baseline: Int?
        var peak = 0
        try run.inputs { index, random in
            let message = Self.message(&random, server: serverPort)
            if Self.mayExit(message) || String(decoding: message, as: UTF8.self).contains("good-tab") { return true }
            try host.send(message)
            guard let reply = host.receive() else {
                XCTFail(
                    "\(run.label(index)): no reply to \(FuzzChecks.show(message)); running \(host.process.process.isRunning); \(host.process.stderr.suffix(400))"
                )
                return false
            }
            if let problem = Self.replyProblem(reply, to: message) {
                XCTFail("\(run.label(index)): \(problem); message \(FuzzChecks.show(message))")
                return false
            }
            if index % 25 == 0 {
                for tab in ["1", "2", "\"tab-3\"", "{\"t\":4}", "null", "1.5"] {
                    try host.send(Array("{\"src\":\(tab),\"seq\":\"c\",\"cmd\":\"close-tab\",\"origin\":\"http://127.0.0.1:8000\"}".utf8))
                    _ = host.receive()
                }
                try Self.checkTunnel(tunnel, size: 64 << 10, seed: UInt64(index), run.label(index))
                let rss = TestKit.residentBytes(pid: host.process.pid) ?? 0
                if baseline == nil { baseline = rss }
                peak = max(peak, rss)
            }
            return host.process.process.isRunning
        }
        XCTAssertTrue(host.process.process.isRunning, host.process.stderr)
        print("fuzz native-host: host RSS \((baseline ?? 0) >> 20) -> \(peak >> 20) MiB")
        XCTAssertLessThan(peak - (baseline ?? peak), 32 << 20, "host RSS grew \((peak - (baseline ?? peak)) >> 20) MiB")
        try Self.checkTunnel(tunnel, size: 1 << 20, seed: 17, "at the end")
        await cleanup()
    }

    /// Frames over the 1 MiB limit (their bytes sent too) and bodies that are not JSON, between good
    /// messages: an error reply each, and the host goes on (issue 22, point 5).
    func testOversizedAndMalformedFramesToTheBuiltHost() async throws {
        let (host, tunnel, _, cleanup) = try await startHost()
        defer { tunnel.close() }
        let run = FuzzRun("native-host-oversized", iterations: 6)
        var baseline: Int?
        try run.inputs { index, random in
            let size = NativeMessageFramer.maxMessageSize + 1 + random.below(64 << 10)
            var frame = NativeMessageFramer.frame(TestKit.randomPayload(count: size, seed: random.next() | 1))
            if random.below(2) == 0 {
                frame = NativeMessageFramer.frame(
                    Array("{\"src\":1,\"seq\":\"big\",\"cmd\":\"status\",\"pad\":\"\(String(repeating: "x", count: size))\"}".utf8))
            }
            try host.process.stdinPipe.fileHandleForWriting.write(contentsOf: Data(frame))
            guard let reply = host.receive(), String(decoding: reply, as: UTF8.self).contains("\"error\"") else {
                XCTFail(
                    "\(run.label(index)): no error reply to a \(size)-byte frame; running \(host.process.process.isRunning); \(host.process.stderr.suffix(300))"
                )
                return false
            }
            try host.send(FuzzMutator.noise(&random, maximum: 200) + [0xff])
            guard let malformed = host.receive(), String(decoding: malformed, as: UTF8.self).contains("\"error\"") else {
                XCTFail("\(run.label(index)): no error reply to a body that is not JSON")
                return false
            }
            try host.send(Array(#"{"src":1,"seq":"after","cmd":"status","origin":"http://127.0.0.1:8000"}"#.utf8))
            guard let after = host.receive(), String(decoding: after, as: UTF8.self).contains("\"after\"") else {
                XCTFail("\(run.label(index)): the host did not go on after a \(size)-byte frame")
                return false
            }
            try Self.checkTunnel(tunnel, size: 64 << 10, seed: UInt64(index), run.label(index))
            let rss = TestKit.residentBytes(pid: host.process.pid) ?? 0
            if baseline == nil { baseline = rss }
            XCTAssertLessThan(rss - (baseline ?? rss), 32 << 20, "host RSS after \(index + 1) oversized frames")
            return true
        }
        XCTAssertTrue(host.process.process.isRunning, host.process.stderr)
        await cleanup()
    }
}
