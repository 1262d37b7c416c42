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

        init(arguments: [String] = ["native-host"], environment: [String: String] = [:]) throws {
            process = try RunningProcess("purr", arguments, environment: environment)
        }

        func send(_ json: String) throws { try sendRaw(NativeMessageFramer.frame(Array(json.utf8))) }

        func sendRaw(_ bytes: [UInt8]) throws {
            try process.stdinPipe.fileHandleForWriting.write(contentsOf: Data(bytes))
        }

        /// The next framed reply, checked byte for byte against its length prefix.
        func receive(timeout: Double = 10) throws -> [String: Any] {
            let bytes = try receiveBytes(timeout: timeout)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        }

        /// The next frame's JSON text, exactly as written.
        func receiveBytes(timeout: Double = 10) throws -> [UInt8] {
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
            return try XCTUnwrap(frame, "no reply; stderr: \(process.stderr)")
        }
    }

    func testOpenStatusCloseExit() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let host = try Host(environment: ["XDG_CONFIG_HOME": try Self.configHome(allowed: [], legacy: true)])
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
        let host = try Host(environment: ["XDG_CONFIG_HOME": try Self.configHome(allowed: [], legacy: true)])
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

    func testLengthsOverTheLimitAreAnsweredAndSkipped() throws {
        for prefix: [UInt8] in [[0, 0, 0x20, 0], [0xff, 0xff, 0xff, 0xff]] {
            let host = try Host(environment: ["XDG_CONFIG_HOME": try Self.configHome(allowed: [], legacy: true)])
            try host.sendRaw(prefix)
            let length = Int(prefix[0]) | Int(prefix[1]) << 8 | Int(prefix[2]) << 16 | Int(prefix[3]) << 24
            XCTAssertEqual(try host.receive()["error"] as? String, "message of \(length) bytes is over the 1048576-byte limit")
            // The body is being skipped: input that ends inside it is the browser gone.
            try host.process.stdinPipe.fileHandleForWriting.close()
            XCTAssertEqual(host.process.waitForExit(), 1)
            XCTAssertTrue(host.process.stderr.contains("input ended inside a message (0 of \(length) bytes)"), host.process.stderr)
        }
    }

    func testEndOfInputExitsCleanly() throws {
        let host = try Host()
        try host.process.stdinPipe.fileHandleForWriting.close()
        XCTAssertEqual(host.process.waitForExit(), 0)
    }

    func testBrowserStyleLaunchAndManifest() throws {
        let chrome = try Host(
            arguments: ["chrome-extension://abcdef/"], environment: ["XDG_CONFIG_HOME": try Self.configHome(allowed: [])])
        try chrome.send(#"{"src":"tab","seq":"s","cmd":"status","origin":"chrome-extension://abcdef"}"#)
        let status = try chrome.receive()
        XCTAssertEqual(status["dst"] as? String, "tab")
        XCTAssertEqual(status["seq"] as? String, "s")
        XCTAssertEqual(status["status"] as? String, "running", "the extension Chrome started us for is ours")
        // Started for abcdef, only abcdef's pages are the extension: not even Purr's own id.
        try chrome.send(#"{"cmd":"origins","origin":"chrome-extension://\#(NativeHostManifest.chromeExtensionID)"}"#)
        XCTAssertEqual(try chrome.receive()["error"] as? String, "'origins' is only for the Purr extension's popup")
        try chrome.send(#"{"cmd":"exit","origin":"chrome-extension://abcdef/"}"#)
        XCTAssertEqual(chrome.process.waitForExit(), 0)

        let manifest = try RunningProcess.run("purr", ["native-host", "--manifest", "firefox", "--extension-id", "purr@x"])
        XCTAssertEqual(manifest.status, 0)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(manifest.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["type"] as? String, "stdio")
        XCTAssertEqual(object["allowed_extensions"] as? [String], ["purr@x"])
        XCTAssertTrue((object["path"] as? String ?? "").hasSuffix("/purr"))
    }

    /// The original host's replies, byte for byte (sorted keys, escaped slashes, nulls kept).
    func testRepliesAreByteCompatible() throws {
        let host = try Host(environment: ["XDG_CONFIG_HOME": try Self.configHome(allowed: [], legacy: true)])
        let cases: [(String, String)] = [
            ("not json", #"{"dst":null,"error":"message is not valid JSON","seq":null}"#),
            (
                #"{"src":1,"seq":6,"cmd":"open","args":{"url":"nope"}}"#,
                #"{"dst":1,"error":"'nope': expected a URL like http:\/\/host:8080\/ssh","seq":6}"#
            ),
            (#"{"src":"tab","seq":"s","cmd":"status"}"#, #"{"args":[],"dst":"tab","seq":"s","status":"running"}"#),
            (
                #"{"src":{"a":[1,2.5,true]},"seq":1.5,"cmd":"x\u0001"}"#,
                #"{"dst":{"a":[1,2.5,true]},"error":"unknown command 'x\u0001'","seq":1.5}"#
            ),
            (#"{"cmd":"close","args":{"port":9}}"#, #"{"dst":null,"error":"no tunnel on port 9 for this tab","seq":null}"#),
        ]
        for (message, expected) in cases {
            try host.send(message)
            XCTAssertEqual(String(decoding: try host.receiveBytes(), as: UTF8.self), expected, message)
        }
    }

    /// A config home whose tunnels.toml allows these origins (none: no file at all).
    /// `legacy`: messages without an origin are served (`[browser] legacy_extension = true`).
    static func configHome(allowed: [String]?, legacy: Bool = false) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("purr-host-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/purr", withIntermediateDirectories: true)
        if let allowed {
            let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
            try "theme = \"dark\"\n\n[browser]\nallowed_origins = [\(list)]\n\(legacy ? "legacy_extension = true\n" : "")".write(
                toFile: "\(dir)/purr/tunnels.toml", atomically: true, encoding: .utf8)
        }
        return dir
    }

    func testOriginsTunnelsAndCloseTab() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port))
        ])
        let home = try Self.configHome(allowed: ["http://127.0.0.1:*", "https://console.example.com"])
        let host = try Host(environment: ["XDG_CONFIG_HOME": home])
        let url = "http://127.0.0.1:\(server.port)/t?v=2&token=secret"

        // Refused origins: open, status and tunnels, with the origin named; remembered for the popup.
        for command in [#""cmd":"open","args":{"url":"\#(url)"}"#, #""cmd":"status""#, #""cmd":"tunnels""#] {
            try host.send(#"{"src":3,"seq":1,"origin":"https://evil.example",\#(command)}"#)
            XCTAssertEqual(
                try host.receive()["error"] as? String,
                "origin 'https://evil.example' is not allowed to open tunnels (allow it in the Purr extension's popup)")
        }
        for origin in ["http://127.0.0.1:8000", "https://console.example.com", "https://console.example.com:443"] {
            try host.send(#"{"src":3,"seq":2,"origin":"\#(origin)","cmd":"status"}"#)
            XCTAssertEqual(try host.receive()["status"] as? String, "running", origin)
        }
        for origin in ["http://localhost:8000", "https://console.example.com:8443", "http://console.example.com", "null"] {
            try host.send(#"{"src":3,"seq":2,"origin":"\#(origin)","cmd":"status"}"#)
            XCTAssertNotNil(try host.receive()["error"] as? String, origin)
        }

        // An origin added to the file by hand counts at once, even when the edit keeps the file's modification
        // time (a rename within one clock tick does: each edit below keeps it on purpose).
        let file = "\(home)/purr/tunnels.toml"
        let time = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date)
        func editByHand(_ text: String) throws {
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: file)
        }
        try editByHand(
            "[browser]\nallowed_origins = [\"http://127.0.0.1:*\", \"https://console.example.com\", \"http://localhost:8000\"]\n")
        try host.send(#"{"src":3,"seq":2,"origin":"http://localhost:8000","cmd":"status"}"#)
        XCTAssertEqual(try host.receive()["status"] as? String, "running")
        try editByHand("theme = \"dark\"\n\n[browser]\nallowed_origins = [\"http://127.0.0.1:*\", \"https://console.example.com\"]\n")
        try host.send(#"{"src":3,"seq":2,"origin":"http://localhost:8000","cmd":"status"}"#)
        XCTAssertNotNil(try host.receive()["error"] as? String, "removed from the file by hand: refused again")
        let good = try String(contentsOfFile: "\(home)/purr/tunnels.toml", encoding: .utf8)
        try editByHand("[browser]\nallowed_origins = [\"ftp:/x\"]\n")
        try host.send(#"{"src":3,"seq":2,"origin":"http://127.0.0.1:8000","cmd":"status"}"#)
        XCTAssertEqual(
            try host.receive()["error"] as? String,
            "origin 'http://127.0.0.1:8000' is not allowed: \(home)/purr/tunnels.toml: browser.allowed_origins[0]: "
                + "'ftp:/x': expected an origin like https://console.example.com or http://127.0.0.1:*")
        try editByHand(good)

        // Only extension pages may list, allow and revoke.
        try host.send(#"{"src":3,"seq":3,"origin":"http://127.0.0.1:8000","cmd":"allow","args":{"origin":"https://evil.example"}}"#)
        XCTAssertEqual(try host.receive()["error"] as? String, "'allow' is only for the Purr extension's popup")
        let popup = #""src":"popup","origin":"chrome-extension://\#(NativeHostManifest.chromeExtensionID)""#
        try host.send(#"{\#(popup),"seq":4,"cmd":"origins"}"#)
        let listed = try XCTUnwrap(try host.receive()["args"] as? [String: Any])
        XCTAssertEqual(listed["allowed"] as? [String], ["http://127.0.0.1:*", "https://console.example.com"])
        XCTAssertEqual(
            listed["refused"] as? [String],
            ["https://evil.example", "http://localhost:8000", "https://console.example.com:8443", "http://console.example.com", "null"])
        try host.send(#"{\#(popup),"seq":5,"cmd":"allow","args":{"origin":"https://evil.example"}}"#)
        let allowed = try XCTUnwrap(try host.receive()["args"] as? [String: Any])
        XCTAssertEqual(allowed["allowed"] as? [String], ["http://127.0.0.1:*", "https://console.example.com", "https://evil.example"])
        XCTAssertFalse((allowed["refused"] as? [String] ?? []).contains("https://evil.example"))
        try host.send(#"{\#(popup),"seq":6,"cmd":"revoke","args":{"origin":"https://console.example.com"}}"#)
        XCTAssertEqual(
            (try host.receive()["args"] as? [String: Any])?["allowed"] as? [String], ["http://127.0.0.1:*", "https://evil.example"])
        let saved = try String(contentsOfFile: "\(home)/purr/tunnels.toml", encoding: .utf8)
        XCTAssertTrue(saved.contains(#"allowed_origins = ["http://127.0.0.1:*", "https://evil.example"]"#), saved)
        XCTAssertTrue(saved.contains(#"theme = "dark""#), "the rest of the file is kept: \(saved)")
        try host.send(#"{\#(popup),"seq":7,"cmd":"allow","args":{"origin":"https://x/path"}}"#)
        XCTAssertEqual(
            try host.receive()["error"] as? String,
            "'https://x/path': an origin is scheme://host[:port], without a path, query or credentials")

        // Details: bytes, live connections, the URL without its token; the popup may ask for any tab.
        try host.send(#"{"src":3,"seq":8,"origin":"https://evil.example","cmd":"open","args":{"url":"\#(url)"}}"#)
        let port = try XCTUnwrap(try host.receive()["args"] as? Int)
        let socket = try BlockingSocket(port: port)
        try socket.write("hello")
        XCTAssertEqual(try socket.read(exactly: 5), Array("hello".utf8))
        var tunnel: [String: Any] = [:]
        XCTAssertTrue(
            try TestKit.poll {
                try host.send(#"{\#(popup),"seq":9,"cmd":"tunnels","args":{"tab":3}}"#)
                let reply = try host.receive()
                XCTAssertEqual(reply["status"] as? String, "tunnels")
                tunnel = (reply["args"] as? [[String: Any]])?.first ?? [:]
                return tunnel["bytesDown"] as? Int == 5
            }, "\(tunnel)")
        XCTAssertEqual(tunnel["port"] as? Int, port)
        // The token went in a header; other query values are hidden (TargetRedaction).
        XCTAssertEqual(tunnel["url"] as? String, "http://127.0.0.1:\(server.port)/t?v=REDACTED")
        XCTAssertEqual(tunnel["bytesUp"] as? Int, 5)
        XCTAssertEqual(tunnel["active"] as? Int, 1)
        XCTAssertEqual((tunnel["connections"] as? [[String: Any]])?.first?["state"] as? String, "relaying")
        try host.send(#"{"src":4,"seq":10,"origin":"https://evil.example","cmd":"tunnels","args":{"tab":3}}"#)
        XCTAssertEqual((try host.receive()["args"] as? [Any])?.count, 0, "a page sees only its own tab")
        socket.close()

        // close-tab: the tab's tunnels close.
        try host.send(#"{"src":3,"seq":11,"origin":"chrome-extension://x","cmd":"close-tab"}"#)
        XCTAssertEqual(try host.receive()["error"] as? String, "'close-tab' is only for the Purr extension's popup")
        try host.send(#"{"src":3,"seq":11,"origin":"chrome-extension://\#(NativeHostManifest.chromeExtensionID)/","cmd":"close-tab"}"#)
        let closed = try host.receive()
        XCTAssertEqual(closed["status"] as? String, "closed")
        XCTAssertEqual(closed["args"] as? [Int], [port])
        XCTAssertTrue(TestKit.poll { (try? BlockingSocket(port: port)) == nil })
        try host.send(#"{"cmd":"exit","origin":"https://console.example.com"}"#)
        XCTAssertEqual(try host.receive()["error"] as? String, "'exit' is only for the Purr extension's popup")
        try host.send(#"{"cmd":"exit"}"#)
        XCTAssertNotNil(try host.receive()["error"] as? String, "no origin, no legacy_extension: refused")
        try host.send(#"{\#(popup),"cmd":"exit"}"#)
        XCTAssertEqual(host.process.waitForExit(), 0)
        await server.shutdown(drainTimeout: 0)
    }

    func testInstallAndUninstall() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("purr-nmh-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let installed = try RunningProcess.run("purr", ["native-host", "--install", "chromium", "--dir", dir])
        XCTAssertEqual(installed.status, 0, installed.stderr)
        XCTAssertTrue(installed.stdout.hasPrefix("wrote \(dir)/purr.json:\n{"), installed.stdout)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/purr.json"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["name"] as? String, "purr")
        XCTAssertEqual(object["type"] as? String, "stdio")
        XCTAssertEqual(object["allowed_origins"] as? [String], ["chrome-extension://cnjilagaiabajcfmodcgkmpihofilcfp/"])
        let path = try XCTUnwrap(object["path"] as? String)
        XCTAssertTrue(path.hasPrefix("/") && path.hasSuffix("/purr") && FileManager.default.isExecutableFile(atPath: path), path)

        let firefox = try RunningProcess.run("purr", ["native-host", "--install", "firefox", "--dir", dir])
        XCTAssertEqual(firefox.status, 0, firefox.stderr)
        let foxObject = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/purr.json"))) as? [String: Any]
        XCTAssertEqual(foxObject?["allowed_extensions"] as? [String], ["purr@purr.purr"])

        let removed = try RunningProcess.run("purr", ["native-host", "--uninstall", "firefox", "--dir", dir])
        XCTAssertEqual(removed.stdout, "removed \(dir)/purr.json\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/purr.json"))
        let again = try RunningProcess.run("purr", ["native-host", "--uninstall", "firefox", "--dir", dir])
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.stdout.hasPrefix("nothing to remove"), again.stdout)

        // The default place, under HOME (Linux: XDG_CONFIG_HOME for Chrome/Chromium).
        let home = "\(dir)/home"
        let user = try RunningProcess.run(
            "purr", ["native-host", "--install", "chrome"], environment: ["HOME": home, "XDG_CONFIG_HOME": ""])
        XCTAssertEqual(user.status, 0, user.stderr)
        #if os(Linux)
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: "\(home)/.config/google-chrome/NativeMessagingHosts/purr.json"), user.stdout)
        #endif

        for (arguments, message) in [
            (["--install", "safari"], "--install: 'safari' is not chrome, chromium or firefox"),
            (["--install", "chrome", "--uninstall", "chrome"], "use one of --manifest, --install and --uninstall at a time"),
            (["--manifest", "chrome", "--dir", dir], "--dir goes with --install or --uninstall"),
        ] {
            let bad = try RunningProcess.run("purr", ["native-host"] + arguments)
            XCTAssertEqual(bad.status, 2, arguments.joined(separator: " "))
            XCTAssertTrue(bad.stderr.contains(message), bad.stderr)
        }
    }

    /// A token in the URL's query goes in `Authorization`, not the request line; `upgrade` picks websocket.
    func testTokenInQueryAndWebSocket() async throws {
        let target = try await TestTarget.start(.echo(banner: nil), group: group)
        let server = try await InProcessServer.start(routes: [
            try Route(path: "/t", target: HostPort(host: "127.0.0.1", port: target.port), token: "s3cr/t")
        ])
        let host = try Host(environment: ["XDG_CONFIG_HOME": try Self.configHome(allowed: [], legacy: true)])
        let base = "http://127.0.0.1:\(server.port)/t"
        for (seq, extra) in [(1, ""), (2, #","upgrade":"websocket""#)] {
            try host.send(#"{"src":1,"seq":\#(seq),"cmd":"open","args":{"url":"\#(base)?a=1&token=s3cr%2Ft"\#(extra)}}"#)
            let port = try XCTUnwrap(try host.receive()["args"] as? Int)
            let socket = try BlockingSocket(port: port)
            try socket.write("ok \(seq)")
            XCTAssertEqual(try socket.read(exactly: 4), Array("ok \(seq)".utf8))
            socket.close()
        }
        try host.send(#"{"src":1,"seq":3,"cmd":"open","args":{"url":"\#(base)?token=wrong"}}"#)
        let wrong = try XCTUnwrap(try host.receive()["args"] as? Int)
        XCTAssertEqual(try BlockingSocket(port: wrong).readToEnd(), [])
        var lastError = ""
        XCTAssertTrue(
            try TestKit.poll {
                try host.send(#"{"src":1,"seq":4,"cmd":"tunnels"}"#)
                let tunnels = try host.receive()["args"] as? [[String: Any]] ?? []
                lastError = tunnels.last?["lastError"] as? String ?? ""
                return !lastError.isEmpty
            })
        XCTAssertTrue(lastError.contains("401"), lastError)
        try host.send(#"{"src":1,"seq":5,"cmd":"open","args":{"url":"\#(base)","upgrade":"carrier-pigeon"}}"#)
        XCTAssertEqual(try host.receive()["error"] as? String, "args.upgrade: 'carrier-pigeon' is not purr or websocket")
        try host.send(#"{"cmd":"exit"}"#)
        XCTAssertEqual(host.process.waitForExit(), 0)
        await server.shutdown(drainTimeout: 0)
    }

    /// A page asks for a dynamic tunnel (`mode` and `allow` in `open`): the native host answers with a
    /// SOCKS5 port, curl fetches a file through it byte-exact, the tunnel's own allow list refuses what the
    /// server would allow (curl sees the refusal), and a bad mode is refused in words.
    func testOpenADynamicTunnelThroughTheFraming() throws {
        let (server, serverPort) = try RunningProcess.purrServer(
            config: """
                [[routes]]
                path = "/t/{host}/{port}"
                target = "{host}:{port}"
                allow = ["127.0.0.0/8:*"]
                """)
        defer { server.stop() }
        let payload = TestKit.randomPayload(count: 1 << 20, seed: 41)
        let origin = try HTTPOrigin("purr-host-dyn", files: ["blob.bin": Data(payload)])
        defer { origin.stop() }
        let (directory, originPort) = (origin.directory, origin.port)
        let host = try Host(environment: ["XDG_CONFIG_HOME": try Self.configHome(allowed: [], legacy: true)])
        defer { host.process.stop() }
        let template = "http://127.0.0.1:\(serverPort)/t/{host}/{port}"
        try host.send(
            #"{"src":3,"seq":1,"cmd":"open","args":{"url":"\#(template)","mode":"socks5","allow":["127.0.0.1:\#(originPort)"]}}"#)
        let opened = try host.receive()
        XCTAssertEqual(opened["status"] as? String, "listening", "\(opened)")
        let port = try XCTUnwrap(opened["args"] as? Int)
        let out = directory.appendingPathComponent("got.bin")
        let fetched = try RunningProcess.run(
            absolute: "/usr/bin/curl",
            [
                "-sS", "--max-time", "30", "--socks5-hostname", "127.0.0.1:\(port)", "-o", out.path,
                "http://127.0.0.1:\(originPort)/blob.bin",
            ],
            timeout: 40)
        XCTAssertEqual(fetched.status, 0, fetched.stderr)
        XCTAssertEqual(TestKit.sha256([UInt8](try Data(contentsOf: out))), TestKit.sha256(payload))
        // The server allows all of 127.0.0.0/8; this tunnel only the origin's port.
        let refused = try RunningProcess.run(
            absolute: "/usr/bin/curl",
            ["-sS", "--max-time", "30", "--socks5-hostname", "127.0.0.1:\(port)", "-o", "/dev/null", "http://127.0.0.1:\(serverPort)/"],
            timeout: 40)
        XCTAssertNotEqual(refused.status, 0)
        // curl names the SOCKS5 reply code: 2, connection not allowed by ruleset.
        XCTAssertTrue(refused.stderr.contains("SOCKS5") && refused.stderr.contains("(2)"), refused.stderr)
        try host.send(#"{"src":3,"seq":2,"cmd":"open","args":{"url":"\#(template)","mode":"teleport"}}"#)
        let bad = try host.receive()
        XCTAssertTrue((bad["error"] as? String ?? "").hasPrefix("args.mode"), "\(bad)")
        try host.send(#"{"cmd":"exit"}"#)
        XCTAssertEqual(host.process.waitForExit(), 0)
    }
}
