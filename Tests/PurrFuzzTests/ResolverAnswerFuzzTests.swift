import Foundation
import PurrCore
import PurrTestSupport
import Synchronization
import XCTest

@testable import PurrServer

/// What a resolver may answer, good, odd and hostile: every answer is a target checked as it was sent, or a
/// refusal with its status rules and one printable line; then the built server with a resolver answering
/// the same inputs, a good tunnel beside it byte-exact.
final class ResolverAnswerFuzzTests: XCTestCase {
    let group = InProcessServer.group

    static let dictionary: [[UInt8]] = [
        "{", "}", "[", "]", "\"", ":", ",", "null", "true", "1e309", "-0", "\\u0000", "\\n", "\"target\"", "\"ttl\"", "\"message\"",
    ].map { Array($0.utf8) }

    /// A status and a body: mostly the documented shapes with odd values, sometimes mutated bytes.
    static func answer(_ random: inout SeededRandom, target: String) -> (status: Int, body: [UInt8]) {
        let status = FuzzMutator.pick(
            [200, 200, 200, 204, 299, 400, 401, 403, 404, 429, 499, 500, 502, 503, 599, 100, 301, 600, 999], &random)
        let targets = [
            "\"\(target)\"", "\"127.0.0.1\"", "\"[::1]:0\"", "\"[::1\"", "\"a:b:c\"", "\"host:65536\"", "5900", "null", "[\"x\"]",
            "{\"host\":\"a\"}", "\"\(String(repeating: "h", count: random.below(2000))):1\"", "\"evil\\r\\nX-Injected: yes:80\"",
            "\"\\u001b[31mred:1\"", "\"host\\u0000:1\"", "\"é.example:1\"",
        ]
        let ttls = ["30", "0", "-1", "1e308", "1e309", "3601", "0.5", "\"30\"", "null", "true", "[]", "99999999999999999999999"]
        let messages = [
            "\"console 42 is not yours\"", "\"\"", "\"line one\\nline two\"", "\"\\u0007bell\\u001b[2J\"", "42", "null",
            "\"\(String(repeating: "m", count: random.below(5000)))\"", "\"\\u2028sep\"",
        ]
        var body: String
        switch random.below(7) {
        case 0, 1, 2:
            var fields: [String] = []
            if random.below(8) != 0 { fields.append("\"target\": \(FuzzMutator.pick(targets, &random))") }
            if random.below(2) == 0 { fields.append("\"ttl\": \(FuzzMutator.pick(ttls, &random))") }
            if random.below(6) == 0 { fields.append("\"extra\": {\"deep\": [1, 2, {\"x\": null}]}") }
            if random.below(10) == 0 { fields.append("\"target\": \(FuzzMutator.pick(targets, &random))") }
            body = "{\(fields.joined(separator: ", "))}"
        case 3:
            body = "{\"message\": \(FuzzMutator.pick(messages, &random))}"
        case 4:
            body = FuzzMutator.pick(
                ["not json\nsecond line", "", " ", "\u{1b}[31mred", "[1,2]", "\"str\"", "{", "<html>oops</html>"], &random)
        case 5:
            body = String(repeating: "[", count: random.below(3000))
        default:
            body = "{\"target\": \"\(target)\", \"ttl\": 1}"
        }
        var bytes = Array(body.utf8)
        if random.below(3) == 0 { bytes = FuzzMutator.mutate(bytes, &random, dictionary: dictionary, limit: ResolverAnswer.maxBody) }
        return (status, bytes)
    }

    /// Nil when the interpretation of one answer keeps the rules; else what broke.
    static func problem(status: Int, body: [UInt8]) -> String? {
        do {
            let answer = try ResolverAnswer.interpret(status: status, body: body)
            guard (200..<300).contains(status) else { return "status \(status) gave a target" }
            guard answer.ttl.isFinite, answer.ttl >= 0, answer.ttl <= ResolverAnswer.maxTTL else { return "ttl \(answer.ttl) out of range" }
            // The target is what the body said, read by another JSON parser.
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let text = object["target"] as? String
            else { return "a target from a body that has no string 'target'" }
            // (With 'target' twice, parsers differ on which counts; either is the resolver's own word.)
            let twice = String(decoding: body, as: UTF8.self).components(separatedBy: "\"target\"").count > 2
            guard twice || (try? HostPort(parsing: text)) == answer.target else {
                return "target \(answer.target) is not the body's \(text.debugDescription)"
            }
            return nil
        } catch {
            switch status {
            case 400..<500:
                guard error.status == status, error.reason == "resolver_refused" else {
                    return "4xx became \(error.status) \(error.reason)"
                }
            default:
                guard error.status == 502, error.reason == "resolver_failed" else {
                    return "\(status) became \(error.status) \(error.reason)"
                }
            }
            if let wrong = FuzzChecks.oneLineProblem(error.message) { return "the refusal \(wrong): \(error.message.debugDescription)" }
            return nil
        }
    }

    func testResolverAnswersInProcess() {
        let run = FuzzRun("resolver-answer", iterations: 6000)
        var targets = 0
        let count = run.inputs { index, random in
            let (status, body) = Self.answer(&random, target: "127.0.0.1:5900")
            if let problem = Self.problem(status: status, body: body) {
                XCTFail("\(run.label(index)): \(problem); status \(status), body \(FuzzChecks.show(body))")
                return false
            }
            if (try? ResolverAnswer.interpret(status: status, body: body)) != nil { targets += 1 }
            // The document we send: any strings survive the round trip.
            let text = { (random: inout SeededRandom) in String(decoding: FuzzMutator.noise(&random, maximum: 40), as: UTF8.self) }
            let document = ResolverDocument(
                path: text(&random), host: text(&random), route: "/r", peer: nil, token: text(&random), captures: ["id": text(&random)],
                headers: [text(&random): text(&random)])
            let encoded = try? JSONEncoder().encode(document)
            XCTAssertEqual(encoded.flatMap { try? JSONDecoder().decode(ResolverDocument.self, from: $0) }, document, run.label(index))
            return true
        }
        run.expect(targets, atLeast: 0.02, of: count, "answers with a target")
    }

    /// The built server asks a real resolver service that answers with the fuzzed inputs, one per request.
    func testResolverAnswersThroughTheBuiltServer() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let next = NextAnswer()
        let resolver = try await ResolverStandIn.start(group: group) { _ in next.take() }
        defer { resolver.close() }
        let (server, port) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/r"
                resolver = "\(resolver.url)"
                allow = ["127.0.0.1:\(target.port)"]
                """, arguments: ["--log-level", "error"])
        defer { server.stop() }
        next.set(.target("127.0.0.1:\(target.port)", ttl: 0))
        let beside = try BlockingSocket(port: port, timeout: 15)
        XCTAssertTrue(try beside.upgrade(path: "/r/beside", port: port).head.hasPrefix("HTTP/1.1 101"))
        let run = FuzzRun("resolver-server", iterations: 250)
        let watch = BesideWatch(beside: beside, pid: server.pid)
        var answers: [Int: Int] = [:]
        let count = try run.inputs { index, random in
            var (status, body) = Self.answer(&random, target: "127.0.0.1:\(target.port)")
            // A 1xx is not a final answer over HTTP: the server's client would wait for one (in-process above);
            // 204 carries no body over HTTP.
            if status < 200 || status == 204 { status = 200 }
            next.set(.answer(status: status, body: String(decoding: body, as: UTF8.self)))
            // A fresh path each time: no answer comes from the cache.
            let socket = try BlockingSocket(port: port, timeout: 15)
            defer { socket.close() }
            let (head, _) = try socket.upgrade(path: "/r/\(index)", port: port)
            let got = Int(head.dropFirst(9).prefix(3)) ?? -1
            answers[got, default: 0] += 1
            let expected = try? ResolverAnswer.interpret(status: status, body: Array(String(decoding: body, as: UTF8.self).utf8))
            if let expected, expected.target.port == target.port, expected.target.host == "127.0.0.1" {
                guard got == 101 else {
                    let rest = String(decoding: (try? socket.readToEnd(limit: 1 << 16)) ?? [], as: UTF8.self)
                    XCTFail(
                        "\(run.label(index)): status \(status) body \(FuzzChecks.show(body)) gave \(head.prefix(12)) \(rest.debugDescription)"
                    )
                    return false
                }
                let payload = TestKit.randomPayload(count: 4096, seed: random.next() | 1)
                try socket.write(payload)
                XCTAssertEqual(try socket.read(exactly: payload.count), payload, run.label(index))
            } else if got == 101 || !(400..<600).contains(got) {
                XCTFail("\(run.label(index)): status \(status) body \(FuzzChecks.show(body)) gave \(head.prefix(80).debugDescription)")
                return false
            } else {
                let rest = (try? socket.readToEnd(limit: 1 << 16)) ?? []
                let line = String(decoding: rest, as: UTF8.self).trimmingCharacters(in: .newlines)
                if let wrong = FuzzChecks.oneLineProblem(line) {
                    XCTFail("\(run.label(index)): the refusal's body \(wrong): \(line.debugDescription)")
                    return false
                }
            }
            try watch.sample(index, run.label(index))
            return server.process.isRunning
        }
        XCTAssertTrue(server.process.isRunning, server.stderr)
        run.expect(answers[101, default: 0], atLeast: 0.03, of: count, "101s: \(answers)")
        run.expect(answers[502, default: 0], atLeast: 0.1, of: count, "502s: \(answers)")
        print("fuzz resolver-server: answers \(answers), \(watch.memory("server"))")
        try watch.finish(seed: 9)
    }
}

/// The resolver's next answer, set by the test before each request.
final class NextAnswer: Sendable {
    private let value = Mutex<ResolverStandIn.Behaviour>(.hangUp)

    func set(_ behaviour: ResolverStandIn.Behaviour) { value.withLock { $0 = behaviour } }
    func take() -> ResolverStandIn.Behaviour { value.withLock { $0 } }
}
