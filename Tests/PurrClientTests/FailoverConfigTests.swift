import Foundation
import PurrClient
import PurrCore
import XCTest

/// Several servers per tunnel in tunnels.toml: the forms `url` takes, `servers`, each bad value one line,
/// and what TunnelsFileWriter writes back.
final class FailoverConfigTests: XCTestCase {
    func testURLArrayAndChoiceRoundTrip() throws {
        let file = try TunnelsFile.parse(
            """
            [[tunnels]]
            name = "ssh"
            url = ["http://a.example:8080/ssh", "https://b.example/ssh"]
            servers = "spread"
            token = "t"
            """, file: "tunnels.toml")
        let ssh = file.tunnels[0]
        XCTAssertEqual(ssh.url.host, "a.example")
        XCTAssertEqual(ssh.serverCount, 2)
        XCTAssertEqual(ssh.serverChoice, .spread)
        XCTAssertEqual(ssh.serverURLs.map(\.description), ["http://a.example:8080/ssh", "https://b.example/ssh"])
        XCTAssertEqual(ssh.forServer(1).token, "t", "the tunnel's token goes to every server")
        XCTAssertEqual(ssh.forServer(1).url.host, "b.example")
        let written = TunnelsFileWriter.render(file)
        XCTAssertTrue(written.contains("url = [\"http://a.example:8080/ssh\", \"https://b.example/ssh\"]"), written)
        XCTAssertTrue(written.contains("servers = \"spread\""), written)
        XCTAssertEqual(try TunnelsFile.parse(written, file: "again.toml"), file, "written back as read")
    }

    func testInlineTablesGiveEachServerItsOwnSettings() throws {
        let file = try TunnelsFile.parse(
            """
            [[tunnels]]
            name = "ssh"
            token = "wide"
            ca_file = "/etc/purr/wide.pem"
            url = [
              { url = "https://a.example/ssh", token = "first" },
              { url = "https://b.example/ssh", ca_file = "/etc/purr/b.pem", proxy = "http://proxy:3128" },
              { url = "https://c.example/ssh", proxy = "none" },
            ]
            """, file: "tunnels.toml")
        let ssh = file.tunnels[0]
        XCTAssertEqual(ssh.serverCount, 3)
        XCTAssertEqual(ssh.serverChoice, .failover)
        XCTAssertEqual(ssh.forServer(0).token, "first")
        XCTAssertEqual(ssh.forServer(1).token, "wide", "not the first server's own token")
        XCTAssertEqual(ssh.forServer(1).caFile, "/etc/purr/b.pem")
        XCTAssertEqual(ssh.forServer(1).proxy?.endpoint.port, 3128)
        XCTAssertEqual(ssh.forServer(2).caFile, "/etc/purr/wide.pem")
        XCTAssertTrue(ssh.forServer(2).noProxy)
        XCTAssertTrue(file.holdsSecrets)
        let written = TunnelsFileWriter.render(file)
        XCTAssertTrue(written.contains("{ url = \"https://b.example/ssh\""), written)
        XCTAssertEqual(try TunnelsFile.parse(written, file: "again.toml"), file, "written back as read")
    }

    func testDynamicTunnelTakesATemplatePerServer() throws {
        let file = try TunnelsFile.parse(
            """
            [[tunnels]]
            name = "socks"
            mode = "socks5"
            url = ["http://a.example/t/{host}/{port}", "http://b.example/t/{host}/{port}"]
            """, file: "tunnels.toml")
        XCTAssertEqual(file.tunnels[0].forServer(1).url.path, "/t/{host}/{port}")
        XCTAssertNoThrow(try file.tunnels[0].validateHead())
    }

    func testBadValuesAreOneLineNamingFileAndKey() {
        let cases: [(String, String)] = [
            ("url = []", "tunnels.toml: tunnels[0].url: the array is empty"),
            ("url = 3", "tunnels.toml: tunnels[0].url: expected a URL, an array of URLs, or an array of"),
            ("url = [\"http://a/\", 3]", "tunnels.toml: tunnels[0].url: expected a URL, an array of URLs"),
            ("url = [\"http://a/\", { url = \"http://b/\" }]", "not both kinds in one array: write a URL alone as { url = \"...\" }"),
            ("url = [\"http://a/\", \"gopher://b\"]", "tunnels.toml: tunnels[0].url[1]: 'gopher://b': unsupported scheme"),
            ("url = [{ url = \"http://a/\", color = 1 }]", "unknown key 'tunnels[0].url[0].color'"),
            ("url = [{ token = \"x\" }]", "tunnels.toml: tunnels[0].url[0].url: missing"),
            ("url = [{ url = \"http://a/\", token = \"a b\" }]", "tunnels.toml: tunnels[0].url[0].token: not a valid token"),
            ("url = [{ url = \"http://a/\", proxy = \"ftp://p\" }]", "tunnels.toml: tunnels[0].url[0].proxy:"),
            (
                "url = [\"http://a/\", \"http://b/\"]\nservers = \"random\"",
                "tunnels.toml: tunnels[0].servers: 'random' is not failover or spread"
            ),
            (
                "url = [\"http://a/r\", \"http://b/r\"]\nmode = \"reverse\"\ntarget = \"127.0.0.1:22\"",
                "tunnels.toml: tunnels[0].url: a reverse tunnel takes one server URL"
            ),
            ("url = [" + (0..<17).map { "\"http://h\($0)/\"" }.joined(separator: ", ") + "]", "at most 16 servers per tunnel"),
        ]
        for (body, expected) in cases {
            let text = "[[tunnels]]\nname = \"x\"\n" + body
            XCTAssertThrowsError(try TunnelsFile.parse(text, file: "tunnels.toml"), text) { error in
                let line = "\(error)"
                XCTAssertTrue(line.contains(expected), "\(line) should contain \(expected)")
                XCTAssertFalse(line.contains("\n"), "one line: \(line)")
            }
        }
    }

    func testChoiceParsing() throws {
        XCTAssertEqual(try ServerChoice(parsing: "spread"), .spread)
        XCTAssertEqual(try ServerChoice(parsing: "failover"), .failover)
        XCTAssertThrowsError(try ServerChoice(parsing: "Spread\n"))
    }

    /// A refused URL's error line never prints its password (attack finding F16).
    func testCredentialsInAServerURLAreNotPrinted() {
        for text in ["http://user:SECRETPASS@127.0.0.1:1/e", "gopher://user:SECRETPASS@h/e", "http://user:SECRETPASS@h:x/e"] {
            XCTAssertThrowsError(try ServerURL(parsing: text), text) { error in
                XCTAssertFalse("\(error)".contains("SECRETPASS"), "\(error)")
                XCTAssertTrue("\(error)".contains("***@"), "\(error)")
            }
        }
        let file = "[[tunnels]]\nname = \"x\"\nurl = [{ url = \"http://a/\" }, { url = \"http://bob:TOMLSECRET@h:2/a\" }]"
        XCTAssertThrowsError(try TunnelsFile.parse(file, file: "t.toml")) { error in
            XCTAssertFalse("\(error)".contains("TOMLSECRET"), "\(error)")
            XCTAssertTrue("\(error)".contains("t.toml: tunnels[0].url[1].url: 'http://***@h:2/a'"), "\(error)")
        }
    }
}
