import Foundation
import PurrClient
import PurrCore
import PurrServer
import PurrTestSupport
import XCTest

/// `purr native-host` as the browser runs it: framed JSON on standard input and output.
final class NativeHostTests: XCTestCase {
    let group = InProcessServer.group

    final class Host {
        let process: RunningProcess
        var consumed = 0

        init(arguments: [String] = ["native-host"]) throws {
            process = try RunningProcess("purr", arguments)
        }

        func send(_ json: String) throws { try sendRaw(NativeMessageFramer.frame(Array(json.utf8))) }

        func sendRaw(_ bytes: [UInt8]) throws {
            try process.stdinPipe.fileHandleForWriting.write(contentsOf: Data(bytes))
        }

        /// The next framed reply, checked byte for byte against its length prefix.
        func receive(timeout: Double = 10) throws -> [String: Any] {
            var frame: [UInt8]?
            TestKit.poll(timeout: timeout) {
                let data = Array((try? Data(contentsOf: process.stdoutURL)) ?? Data())
                guard data.count >= consumed + 4 else { return false }
                let length =
                    Int(data[consumed]) | Int(data[consumed + 1]) << 8 | Int(data[consumed + 2]) << 16 | Int(data[consumed + 3]) << 24
                guard data.count >= consumed + 4 + length else { return false }
                frame = Array(data[(consumed + 4)..<(consumed + 4 + length)])
                consumed += 4 + length
                return true
            }
            let bytes = try XCTUnwrap(frame, "no reply; stderr: \(process.stderr)")
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        }
    }

    func testOpenStatusCloseExit() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let host = try Host()
        try host.send(#"{"src":7,"seq":1,"cmd":"open","args":{"url":"http://127.0.0.1:\#(server.port)/t"}}"#)
        let opened = try host.receive()
        XCTAssertEqual(opened["dst"] as? Int, 7)
        XCTAssertEqual(opened["seq"] as? Int, 1)
        XCTAssertEqual(opened["status"] as? String, "listening")
        let port = try XCTUnwrap(opened["args"] as? Int)
        for address in ["127.0.0.1", "::1"] {
            let socket = try BlockingSocket(host: address, port: port)
            try socket.write("via \(address)")
            XCTAssertEqual(try socket.read(exactly: 4 + address.count), Array("via \(address)".utf8))
        }
        try host.send(#"{"src":8,"seq":2,"cmd":"status"}"#)
        XCTAssertEqual(try host.receive()["args"] as? [Int], [], "tunnels belong to the tab that opened them")
        try host.send(#"{"src":7,"seq":3,"cmd":"status"}"#)
        let status = try host.receive()
        XCTAssertEqual(status["status"] as? String, "running")
        XCTAssertEqual(status["args"] as? [Int], [port])
        try host.send(#"{"src":8,"seq":4,"cmd":"close","args":{"port":\#(port)}}"#)
        XCTAssertEqual(try host.receive()["error"] as? String, "no tunnel on port \(port) for this tab")
        try host.send(#"{"src":7,"seq":5,"cmd":"close","args":{"port":\#(port)}}"#)
        let closed = try host.receive()
        XCTAssertEqual(closed["status"] as? String, "closed")
        XCTAssertEqual(closed["seq"] as? Int, 5)
        XCTAssertThrowsError(try BlockingSocket(port: port))
        try host.send(#"{"src":7,"seq":6,"cmd":"exit"}"#)
        XCTAssertEqual(host.process.waitForExit(), 0)
        await server.shutdown(drainTimeout: 0)
    }

    func testBadMessagesGetErrorsNotCrashes() throws {
        let host = try Host()
        let cases: [(String, String)] = [
            ("not json", "message is not valid JSON"),
            ("[1,2]", "message must be a JSON object"),
            (#"{"src":1,"seq":1}"#, "cmd must be a string"),
            (#"{"src":1,"seq":2,"cmd":42}"#, "cmd must be a string"),
            (#"{"src":1,"seq":3,"cmd":"fly"}"#, "unknown command 'fly'"),
            (#"{"src":1,"seq":4,"cmd":"open"}"#, "open needs args.url (a string)"),
            (#"{"src":1,"seq":5,"cmd":"open","args":{"url":5}}"#, "open needs args.url (a string)"),
            (#"{"src":1,"seq":6,"cmd":"open","args":{"url":"nope"}}"#, "'nope': expected a URL like http://host:8080/ssh"),
            (#"{"src":1,"seq":7,"cmd":"close","args":{"port":"x"}}"#, "close needs args.port (a number)"),
        ]
        for (message, expected) in cases {
            try host.send(message)
            XCTAssertEqual(try host.receive()["error"] as? String, expected, message)
        }
        // Input that ends inside a frame: a clean exit, with a line saying why.
        try host.sendRaw([10, 0, 0, 0, 65, 66])
        try host.process.stdinPipe.fileHandleForWriting.close()
        XCTAssertEqual(host.process.waitForExit(), 1)
        XCTAssertTrue(host.process.stderr.contains("input ended inside a message (2 of 10 bytes)"), host.process.stderr)
    }

    func testTooLongAndNegativeLengths() throws {
        for prefix: [UInt8] in [[0, 0, 0x20, 0], [0xff, 0xff, 0xff, 0xff]] {
            let host = try Host()
            try host.sendRaw(prefix)
            XCTAssertEqual(try host.receive()["error"] as? String, "message too long")
            XCTAssertEqual(host.process.waitForExit(), 1)
        }
    }

    func testEndOfInputExitsCleanly() throws {
        let host = try Host()
        try host.process.stdinPipe.fileHandleForWriting.close()
        XCTAssertEqual(host.process.waitForExit(), 0)
    }

    func testBrowserStyleLaunchAndManifest() throws {
        let chrome = try Host(arguments: ["chrome-extension://abcdef/"])
        try chrome.send(#"{"src":"tab","seq":"s","cmd":"status"}"#)
        let status = try chrome.receive()
        XCTAssertEqual(status["dst"] as? String, "tab")
        XCTAssertEqual(status["seq"] as? String, "s")
        try chrome.send(#"{"cmd":"exit"}"#)
        XCTAssertEqual(chrome.process.waitForExit(), 0)

        let manifest = try RunningProcess.run("purr", ["native-host", "--manifest", "firefox", "--extension-id", "purr@x"])
        XCTAssertEqual(manifest.status, 0)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(manifest.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["type"] as? String, "stdio")
        XCTAssertEqual(object["allowed_extensions"] as? [String], ["purr@x"])
        XCTAssertTrue((object["path"] as? String ?? "").hasSuffix("/purr"))
    }
}
