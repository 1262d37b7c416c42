import Foundation
import NIOHTTP1
import PurrClient
import PurrCore
import XCTest

final class ClientConfigTests: XCTestCase {
    func testServerURL() throws {
        let url = try ServerURL(parsing: "http://purr.example.com:8080/ssh?x=1")
        XCTAssertEqual(url.host, "purr.example.com")
        XCTAssertEqual(url.port, 8080)
        XCTAssertEqual(url.path, "/ssh?x=1")
        XCTAssertEqual(url.hostHeader, "purr.example.com:8080")
        let plain = try ServerURL(parsing: "http://example.com")
        XCTAssertEqual(plain.port, 80)
        XCTAssertEqual(plain.path, "/")
        XCTAssertEqual(plain.hostHeader, "example.com")
        let v6 = try ServerURL(parsing: "http://[::1]:9000/db")
        XCTAssertEqual(v6.host, "::1")
        XCTAssertEqual(v6.hostHeader, "[::1]:9000")
        for (bad, expected) in [
            ("example.com/ssh", "expected a URL"), ("ftp://x/", "unsupported scheme 'ftp'"),
            ("http://u:p@x/", "credentials"), ("http://x:99999/", "port"),
        ] {
            XCTAssertThrowsError(try ServerURL(parsing: bad), bad) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
        }
    }

    func testListenAddress() throws {
        XCTAssertEqual(try ListenAddress(parsing: "localhost:2222").bindHosts, ["127.0.0.1", "::1"])
        XCTAssertEqual(try ListenAddress(parsing: "[::1]:0").bindHosts, ["::1"])
        XCTAssertThrowsError(try ListenAddress(parsing: "2222"))
    }

    func testProxySettings() throws {
        let proxy = try ProxySettings(parsing: "http://bob:s%3Acret@proxy.corp:3128")
        XCTAssertEqual(proxy.endpoint, HostPort(host: "proxy.corp", port: 3128))
        XCTAssertEqual(proxy.authorization, "Basic " + Data("bob:s:cret".utf8).base64EncodedString())
        XCTAssertEqual(proxy.description, "http://bob:***@proxy.corp:3128", "the password is never shown")
        let head = proxy.connectHead(to: HostPort(host: "srv", port: 8080))
        XCTAssertEqual(head.method, .CONNECT)
        XCTAssertEqual(head.uri, "srv:8080")
        XCTAssertEqual(head.headers.map { "\($0.name): \($0.value)" }, ["Host: srv:8080", "Proxy-Authorization: \(proxy.authorization!)"])
        XCTAssertEqual(try ProxySettings(parsing: "proxy.corp").endpoint.port, 3128)
        XCTAssertThrowsError(try ProxySettings(parsing: "socks5://x:1080")) { XCTAssertFalse("\($0)".contains("pass")) }
    }

    func testNoProxyMatching() {
        XCTAssertTrue(ProxySettings.bypasses(host: "a.example.com", port: 80, noProxy: ".example.com"))
        XCTAssertTrue(ProxySettings.bypasses(host: "example.com", port: 80, noProxy: "example.com"))
        XCTAssertTrue(ProxySettings.bypasses(host: "x.example.com", port: 80, noProxy: "example.com"))
        XCTAssertFalse(ProxySettings.bypasses(host: "badexample.com", port: 80, noProxy: "example.com"))
        XCTAssertTrue(ProxySettings.bypasses(host: "anything", port: 80, noProxy: "*"))
        XCTAssertTrue(ProxySettings.bypasses(host: "h", port: 8080, noProxy: "h:8080"))
        XCTAssertFalse(ProxySettings.bypasses(host: "h", port: 80, noProxy: "h:8080"))
        XCTAssertTrue(ProxySettings.bypasses(host: "::1", port: 80, noProxy: "[::1]"))
    }

    func testEnvironmentProxyChoice() throws {
        let url = try ServerURL(parsing: "http://srv:8080/x")
        XCTAssertEqual(try ProxySettings.fromEnvironment(for: url, environment: ["http_proxy": "http://p:1"])?.endpoint.port, 1)
        XCTAssertNil(try ProxySettings.fromEnvironment(for: url, environment: ["HTTPS_PROXY": "http://p:1"]))
        XCTAssertNil(try ProxySettings.fromEnvironment(for: url, environment: ["HTTP_PROXY": "http://p:1", "no_proxy": "srv"]))
        XCTAssertThrowsError(try ProxySettings.fromEnvironment(for: url, environment: ["HTTP_PROXY": "ftp://p"])) {
            XCTAssertTrue("\($0)".hasPrefix("HTTP_PROXY: "))
        }
    }

    func testHeaders() throws {
        let header = try TunnelConfig.Header(parsing: "X-Token:  abc ")
        XCTAssertEqual(header, TunnelConfig.Header(name: "X-Token", value: "abc"))
        XCTAssertThrowsError(try TunnelConfig.Header(parsing: "novalue"))
        XCTAssertThrowsError(try TunnelConfig.Header(parsing: "Bad Name: x"))
        XCTAssertThrowsError(try TunnelConfig.Header(parsing: "Upgrade: h2c")) { XCTAssertTrue("\($0)".contains("set by Purr")) }
    }

    func testTunnelsFile() throws {
        let file = try TunnelsFile.parse(
            """
            theme = "light"

            [[tunnels]]
            name = "ssh"
            url = "http://purr.example.com:8080/ssh"
            listen = "localhost:2222"
            token = "t"
            proxy = "http://proxy:3128"
            autostart = true
            idle_timeout = 600
            headers = { "X-Auth" = "v" }

            [[tunnels]]
            name = "db"
            url = "http://purr.example.com:8080/db"
            proxy = "none"

            [[servers]]
            name = "prod"
            admin_url = "http://127.0.0.1:9090"
            token = "admin"

            [[servers]]
            name = "tls"
            admin_url = "https://admin.example.com:9443"
            ca_file = "/etc/purr/ca.pem"
            insecure = false
            """, file: "tunnels.toml")
        XCTAssertEqual(file.theme, "light")
        XCTAssertEqual(file.tunnels.count, 2)
        let ssh = file.tunnels[0]
        XCTAssertEqual(ssh.listen, ListenAddress(host: "localhost", port: 2222))
        XCTAssertEqual(ssh.headers, [TunnelConfig.Header(name: "X-Auth", value: "v")])
        XCTAssertEqual(ssh.proxy?.endpoint.port, 3128)
        XCTAssertEqual(ssh.idleTimeout, 600)
        XCTAssertTrue(ssh.autostart)
        XCTAssertTrue(file.tunnels[1].noProxy)
        XCTAssertEqual(file.tunnels[1].listen.port, 0)
        XCTAssertEqual(
            file.servers,
            [
                TunnelsFile.Server(name: "prod", adminURL: "http://127.0.0.1:9090", token: "admin"),
                TunnelsFile.Server(name: "tls", adminURL: "https://admin.example.com:9443", caFile: "/etc/purr/ca.pem"),
            ])
        XCTAssertEqual(try TunnelsFile.parse(TunnelsFileWriter.render(file), file: "again.toml"), file, "written back as read")
    }

    /// `proxy_auth` is written back (a tunnel saved from the TUI keeps its named scheme).
    func testProxyAuthRoundTrip() throws {
        for scheme in ["negotiate", "ntlm", "basic"] {
            let file = try TunnelsFile.parse(
                "[[tunnels]]\nname = \"a\"\nurl = \"http://h/\"\nproxy = \"http://proxy:3128\"\nproxy_auth = \"\(scheme)\"\n",
                file: "t.toml")
            XCTAssertEqual(file.tunnels[0].proxyAuth.rawValue, scheme)
            XCTAssertEqual(try TunnelsFile.parse(TunnelsFileWriter.render(file), file: "again.toml"), file, scheme)
        }
        let auto = try TunnelsFile.parse("[[tunnels]]\nname = \"a\"\nurl = \"http://h/\"\n", file: "t.toml")
        XCTAssertFalse(TunnelsFileWriter.render(auto).contains("proxy_auth"), "the default is not written")
    }

    /// `legacy_extension` is read and written back (the popup's Allow must not turn it off).
    func testLegacyExtensionRoundTrip() throws {
        let file = try TunnelsFile.parse("[browser]\nlegacy_extension = true\n", file: "t.toml")
        XCTAssertTrue(file.browser.legacyExtension)
        XCTAssertEqual(file.browser.allowedOrigins, [])
        XCTAssertEqual(try TunnelsFile.parse(TunnelsFileWriter.render(file), file: "again.toml"), file)
        XCTAssertFalse(try TunnelsFile.parse("[browser]\nallowed_origins = []\n", file: "t.toml").browser.legacyExtension)
        XCTAssertTrue(try TunnelsFile.parse("[[tunnels]]\nname = \"a\"\nurl = \"http://h/\"\ntoken = \"t\"\n", file: "t").holdsSecrets)
        XCTAssertFalse(try TunnelsFile.parse("[[tunnels]]\nname = \"a\"\nurl = \"http://h/\"\n", file: "t").holdsSecrets)
    }

    func testTunnelsFileErrorsNameFileAndKey() {
        let cases: [(String, String)] = [
            ("[[tunnels]]\nname = \"a\"\nurl = \"http://x/\"\ncolor = 1", "tunnels.toml: unknown key 'tunnels[0].color'"),
            ("[[tunnels]]\nname = \"a\"", "tunnels.toml: tunnels[0].url: missing"),
            ("[[tunnels]]\nname = \"a\"\nurl = \"gopher://x\"", "tunnels.toml: tunnels[0].url: 'gopher://x': unsupported scheme"),
            ("[[tunnels]]\nname = \"a\"\nurl = \"http://x/\"\nlisten = \"here\"", "tunnels[0].listen: 'here': expected HOST:PORT"),
            ("[[tunnels]]\nname = \"a\"\nurl = \"http://x/\"\nautostart = \"yes\"", "tunnels[0].autostart: expected true or false"),
            ("[[tunnels]]\nname = \"a\"\nurl = \"http://x/\"\n[[tunnels]]\nname = \"a\"\nurl = \"http://y/\"", "already defined"),
            ("[[servers]]\nname = \"s\"", "servers[0].admin_url: missing"),
            ("[[tunnels]\n", "tunnels.toml:1:"),
            ("tunnels = 3", "tunnels: expected an array of tables"),
            ("[browser]\nallowed = []", "tunnels.toml: unknown key 'browser.allowed' (expected one of: allowed_origins, legacy_extension)"),
            ("[browser]\nlegacy_extension = \"yes\"", "tunnels.toml: browser.legacy_extension: expected true or false"),
            (
                "[[tunnels]]\nname = \"x\"\nurl = \"http://h/\"\ntoken = \"abc\\r\\nX-Injected: yes\"",
                "tunnels.toml: tunnel \"x\": token: not a valid token (token68)"
            ),
            ("[[tunnels]]\nname = \"x\"\nurl = \"http://h/\"\ntoken = \"a b\"", "tunnel \"x\": token: not a valid token (token68)"),
            (
                "[[tunnels]]\nname = \"x\"\nurl = \"http://h/\"\nheaders = { \"X-A\" = \"1\\nX-Injected: yes\" }",
                "tunnels[0].headers: header 'X-A': the value has a line break"
            ),
            ("[[tunnels]]\nname = \"x\"\nurl = \"http://h/a{b}\"", "the path has spaces, control characters or characters"),
            (
                "[[servers]]\nname = \"s\"\nadmin_url = \"http://h:1\"\ntoken = \"a\\rb\"",
                "tunnels.toml: servers[0].token: not a valid token (token68)"
            ),
            ("[browser]\nallowed_origins = \"x\"", "tunnels.toml: browser.allowed_origins: expected an array of strings"),
            ("[browser]\nallowed_origins = [1]", "tunnels.toml: browser.allowed_origins[0]: expected a string"),
            ("[browser]\nallowed_origins = [\"http://a\", \"http://b:x\"]", "browser.allowed_origins[1]: 'http://b:x': 'x' is not a port"),
            ("[browser]\nallowed_origins = [\"console.example.com\"]", "expected an origin like https://console.example.com"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try TunnelsFile.parse(text, file: "tunnels.toml"), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }

    func testDefaultPath() {
        XCTAssertEqual(TunnelsFile.defaultPath(environment: ["XDG_CONFIG_HOME": "/x"]), "/x/purr/tunnels.toml")
        XCTAssertEqual(TunnelsFile.defaultPath(environment: ["HOME": "/home/u"]), "/home/u/.config/purr/tunnels.toml")
    }

    func testBrowserOriginsParseMatchAndRoundTrip() throws {
        let text = """
            [browser]
            allowed_origins = ["https://Console.Example.com", "http://127.0.0.1:*", "http://[::1]:8000", "https://x.example:443/"]
            """
        let file = try TunnelsFile.parse(text, file: "tunnels.toml")
        let patterns = file.browser.allowedOrigins
        XCTAssertEqual(
            patterns.map(\.description), ["https://console.example.com", "http://127.0.0.1:*", "http://[::1]:8000", "https://x.example"])
        XCTAssertTrue(patterns[0].matches("https://console.example.com"))
        XCTAssertFalse(patterns[0].matches("http://console.example.com"))
        XCTAssertFalse(patterns[0].matches("https://console.example.com:8443"))
        XCTAssertFalse(patterns[0].matches("https://evil.console.example.com"))
        XCTAssertTrue(patterns[1].matches("http://127.0.0.1:5173"))
        XCTAssertTrue(patterns[1].matches("http://127.0.0.1"))
        XCTAssertFalse(patterns[1].matches("https://127.0.0.1:5173"))
        XCTAssertFalse(patterns[1].matches("http://127.0.0.2:5173"))
        XCTAssertTrue(patterns[2].matches("http://[::1]:8000"))
        XCTAssertFalse(patterns[1].matches("null"))
        XCTAssertFalse(patterns[1].matches("http://127.0.0.1:*"), "a browser's origin never has a wildcard")
        let again = try TunnelsFile.parse(TunnelsFileWriter.render(file), file: "again.toml")
        XCTAssertEqual(again, file)
    }
}
