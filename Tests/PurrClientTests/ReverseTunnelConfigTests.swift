import PurrClient
import PurrCore
import XCTest

/// `mode = "reverse"` in tunnels.toml: read, refused with one line when wrong, written back as read.
final class ReverseTunnelConfigTests: XCTestCase {
    func testReverseEntryRoundTrip() throws {
        let file = try TunnelsFile.parse(
            """
            [[tunnels]]
            name = "lab ssh"
            mode = "reverse"
            url = "https://purr.example/rev/lab-ssh"
            target = "127.0.0.1:22"
            pool = 4
            token = "t"

            [[tunnels]]
            name = "web"
            mode = "reverse"
            url = "ws://127.0.0.1:8080/rev/web"
            target = "localhost:8000"
            reverse_name = "lab-web"
            autostart = true
            """, file: "tunnels.toml")
        let ssh = file.tunnels[0]
        XCTAssertEqual(ssh.mode, .reverse)
        XCTAssertFalse(ssh.mode.isDynamic)
        XCTAssertEqual(ssh.target, HostPort(host: "127.0.0.1", port: 22))
        XCTAssertNil(ssh.reverseName)
        XCTAssertEqual(ssh.pool, 4)
        XCTAssertEqual(file.tunnels[1].reverseName, "lab-web")
        XCTAssertEqual(file.tunnels[1].target, HostPort(host: "localhost", port: 8000))
        let written = TunnelsFileWriter.render(file)
        XCTAssertTrue(written.contains("mode = \"reverse\"\ntarget = \"127.0.0.1:22\"\n"), written)
        XCTAssertEqual(try TunnelsFile.parse(written, file: "again.toml"), file, "written back as read")
    }

    func testBadReverseEntriesGiveOneLine() {
        let head = "[[tunnels]]\nname = \"r\"\nurl = \"http://h/rev/r\"\n"
        let cases: [(String, String)] = [
            ("mode = \"reverse\"\n", "t.toml: tunnels[0].target: a reverse tunnel needs the local service, like \"127.0.0.1:22\""),
            ("mode = \"reverse\"\ntarget = \"nowhere\"\n", "t.toml: tunnels[0].target:"),
            ("mode = \"reverse\"\ntarget = \"127.0.0.1:0\"\n", "t.toml: tunnels[0].target:"),
            ("target = \"127.0.0.1:22\"\n", "t.toml: tunnels[0]: target and reverse_name are for mode = \"reverse\""),
            ("mode = \"reverse\"\ntarget = \"127.0.0.1:22\"\nreverse_name = \"\"\n", "t.toml: tunnels[0].reverse_name:"),
            ("mode = \"backwards\"\n", "is not fixed, socks5, http-proxy, proxy or reverse"),
        ]
        for (body, expected) in cases {
            XCTAssertThrowsError(try TunnelsFile.parse(head + body, file: "t.toml"), body) { error in
                let message = (error as? ConfigError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(expected), "\(body): \(message)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
        XCTAssertThrowsError(
            try TunnelsFile.parse(
                "[[tunnels]]\nname = \"r\"\nurl = \"http://h/\"\nmode = \"reverse\"\ntarget = \"127.0.0.1:22\"\n", file: "t")
        ) { error in XCTAssertTrue("\(error)".contains("reverse_name"), "\(error)") }
    }

    /// The native host opens only tunnels with a local port.
    func testDynamicOpenRefusesReverse() {
        XCTAssertThrowsError(try DynamicOpen.mode("reverse")) { error in
            XCTAssertEqual((error as? ConfigError)?.message, "args.mode: 'reverse' is not fixed, socks5, http-proxy or proxy")
        }
    }
}

extension ReverseTunnelConfigTests {
    /// An open reverse tunnel's state word: exposed once registered, refused after a refusal (until it
    /// registers again), registering before either.
    func testReverseStateWord() {
        let counters = ReverseExposer.Counters()
        XCTAssertEqual(ReverseSnapshot(name: "web", registered: false, counters: counters).stateWord, "registering")
        XCTAssertEqual(ReverseSnapshot(name: "web", registered: true, counters: counters).stateWord, "exposed")
        XCTAssertEqual(
            ReverseSnapshot(name: "web", registered: false, counters: counters, lastRefusal: "401 wrong token").stateWord, "refused")
        XCTAssertEqual(
            ReverseSnapshot(name: "web", registered: true, counters: counters, lastRefusal: "409 taken").stateWord, "exposed")
    }
}
