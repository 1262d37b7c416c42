import PurrCore
import XCTest

@testable import PurrServer

/// The pieces of dynamic routing on their own: host classification, the allow list, path and target
/// templates, the token file format, and how the routes order.
final class RoutingPartsTests: XCTestCase {
    func testHostsAreAddressesOrNamesAndNothingThatResolversReadAsAnAddress() {
        XCTAssertEqual(TargetHost("10.0.0.5"), .ipv4([10, 0, 0, 5]))
        XCTAssertEqual(TargetHost("[::1]"), .ipv6([UInt8](repeating: 0, count: 15) + [1]))
        XCTAssertEqual(TargetHost("::ffff:10.0.0.1"), .ipv4([10, 0, 0, 1]), "an IPv4-mapped address is the IPv4 address")
        XCTAssertEqual(TargetHost("VM-1.vms.Internal"), .name("vm-1.vms.internal"))
        XCTAssertEqual(TargetHost("::1")?.description, "::1")
        // inet_aton would read these as 127.0.0.1 or 8.0.0.1; here they are neither an address nor a name.
        for hostile in ["2130706433", "0x7f000001", "127.1", "010.0.0.1", "0x7f.0.0.1", "1.2.3.4.5"] {
            XCTAssertNil(TargetHost(hostile), hostile)
        }
        for bad in ["", "-a.b", "a..b", "a_b", "a b", "fe80::1%eth0", "é.example", String(repeating: "a", count: 64) + ".x", "a/b"] {
            XCTAssertNil(TargetHost(bad), bad)
        }
    }

    func testAllowListEntriesAndMatches() throws {
        let allow = try AllowList([
            "10.0.0.0/8:5900-5999", "*.vms.internal:5900", "127.0.0.1:*", "[::1]:22", "[fd00::/8]:80", "db.internal:5432",
        ])
        let allowed = [
            "10.200.3.4:5901", "vm1.vms.internal:5900", "a.b.vms.internal:5900", "127.0.0.1:1", "[::1]:22", "[fd12::5]:80",
            "DB.internal:5432", "[::ffff:10.1.1.1]:5999",
        ]
        for text in allowed { XCTAssertTrue(allow.allows(try HostPort(parsing: text)), text) }
        let refused = [
            "10.0.0.1:6000", "11.0.0.1:5900", "vms.internal:5900", "evilvms.internal:5900", "vm1.vms.internal:5901", "127.0.0.2:22",
            "[::1]:23", "[fe80::1]:80", "x.db.internal:5432", "127.1:22", "2130706433:22",
        ]
        for text in refused { XCTAssertFalse(allow.allows(try HostPort(parsing: text)), text) }

        let bad: [(String, String)] = [
            ("10.0.0.0/8", "expected HOST:PORTS"),
            ("10.0.0.0/33:1", "too long"),
            ("*:22", "a wildcard is only '*.' before a domain"),
            ("*.:22", "is not a host name"),
            ("::1:22", "write IPv6 addresses as [ADDRESS]:PORTS"),
            ("1.2.3.4:0", "is not a port"),
            ("1.2.3.4:90-80", "is not a port"),
            ("host:http", "is not a port"),
            ("a b:22", "is not an IP address, network or host name"),
        ]
        for (entry, expected) in bad {
            XCTAssertThrowsError(try AllowList([entry]), entry) { XCTAssertTrue("\($0)".contains(expected), "\(entry): \($0)") }
        }
        XCTAssertThrowsError(try AllowList([])) { XCTAssertTrue("\($0)".contains("empty")) }
    }

    func testPathTemplatesCaptureOneSafeSegmentEach() throws {
        let template = try XCTUnwrap(try PathTemplate("/vnc/{host}/{port}"))
        XCTAssertEqual(template.captureNames, ["host", "port"])
        XCTAssertEqual(template.match("/vnc/10.0.0.5/5901"), .captures(["host": "10.0.0.5", "port": "5901"]))
        XCTAssertEqual(template.match("/vnc/[::1]/22"), .captures(["host": "[::1]", "port": "22"]))
        XCTAssertEqual(template.match("/vnc/10.0.0.5"), .noMatch)
        XCTAssertEqual(template.match("/vnc/a/b/c"), .noMatch)
        XCTAssertEqual(template.match("/ssh/a/1"), .noMatch)
        let hostile: [(String, String)] = [
            ("/vnc/../5900", "'..' is not allowed"),
            ("/vnc/a%2Fb/5900", "percent-encoded"),
            ("/vnc/a%00/5900", "percent-encoded"),
            ("/vnc//5900", "empty"),
            ("/vnc/\(String(repeating: "a", count: 300))/5900", "longer than 255"),
            ("/vnc/a\u{0}b/5900", "characters"),
            ("/vnc/a@b/5900", "characters"),
        ]
        for (path, expected) in hostile {
            guard case .badCapture(let why) = template.match(path) else { return XCTFail("\(path) not refused") }
            XCTAssertTrue(why.contains(expected), "\(path): \(why)")
        }
        XCTAssertNil(try PathTemplate("/plain"))
        for bad in ["/vnc/x{host}", "/vnc/{host}/{host}", "/vnc/{ho-st}"] {
            XCTAssertThrowsError(try PathTemplate(bad), bad)
        }
    }

    func testTargetTemplatesFillValidatedHostsAndPorts() throws {
        let both = try TargetTemplate("{host}:{port}", captures: ["host", "port"])
        XCTAssertEqual(try both.fill(["host": "10.0.0.5", "port": "5901"]).get(), HostPort(host: "10.0.0.5", port: 5901))
        XCTAssertEqual(try both.fill(["host": "[::1]", "port": "22"]).get(), HostPort(host: "::1", port: 22))
        let named = try TargetTemplate("{name}.vms.internal:5900", captures: ["name"])
        XCTAssertEqual(try named.fill(["name": "Web1"]).get(), HostPort(host: "web1.vms.internal", port: 5900))
        let fixedHost = try TargetTemplate("127.0.0.1:{port}", captures: ["port"])
        XCTAssertEqual(try fixedHost.fill(["port": "22"]).get().port, 22)
        for (captures, reason) in [
            (["host": "2130706433", "port": "22"], "not a host name or IP address"),
            (["host": "a:b", "port": "22"], "not a host name or IP address"),
            (["host": "10.0.0.5", "port": "70000"], "not a port number"),
            (["host": "10.0.0.5", "port": "0"], "not a port number"),
            (["host": "10.0.0.5", "port": "+22"], "not a port number"),
        ] {
            guard case .failure(let refusal) = both.fill(captures) else { return XCTFail("\(captures) not refused") }
            XCTAssertEqual(refusal.status, 400)
            XCTAssertEqual(refusal.reason, "bad_capture")
            XCTAssertTrue(refusal.message.contains(reason), refusal.message)
        }
        XCTAssertThrowsError(try TargetTemplate("{host}:{port}", captures: ["host"])) {
            XCTAssertTrue("\($0)".contains("{port} is not a capture"))
        }
        XCTAssertThrowsError(try TargetTemplate("{host}", captures: ["host"]))
        XCTAssertThrowsError(try TargetTemplate("{host}:x{port}", captures: ["host", "port"]))
    }

    func testTokenFilesSkipBadLinesWithTheirNumberAndNeverTheToken() throws {
        let text = """
            # consoles
            alpha: 127.0.0.1:5901
              beta :  [::1]:22

            s3cr3t-no-colon 127.0.0.1:1
            gamma: nowhere
            : 127.0.0.1:1
            alpha: 127.0.0.1:9
            delta: db.internal:5432
            """
        let file = TokenFile(text: text, file: "tokens.txt")
        XCTAssertEqual(file.entries.map(\.token), ["alpha", "beta", "delta"])
        XCTAssertEqual(file.target(for: "beta"), HostPort(host: "::1", port: 22))
        XCTAssertEqual(file.target(for: "alpha"), HostPort(host: "127.0.0.1", port: 5901), "the first of two lines wins")
        XCTAssertNil(file.target(for: "alph"))
        XCTAssertNil(file.target(for: ""))
        XCTAssertEqual(file.problems.count, 4)
        XCTAssertTrue(file.problems[0].hasPrefix("tokens.txt:5: "), file.problems[0])
        XCTAssertTrue(file.problems[1].hasPrefix("tokens.txt:6: the target 'nowhere': expected HOST:PORT"), file.problems[1])
        XCTAssertTrue(file.problems[2].hasPrefix("tokens.txt:7: "), file.problems[2])
        XCTAssertTrue(file.problems[3].hasPrefix("tokens.txt:8: the same token as on line 2"), file.problems[3])
        for problem in file.problems { XCTAssertFalse(problem.contains("s3cr3t") || problem.contains("alpha"), problem) }
    }

    func testExactRoutesThenTemplatesThenPrefixes() throws {
        let allow = try AllowList(["127.0.0.1:*"])
        func route(_ path: String, _ target: String) throws -> Route {
            target.contains("{")
                ? try Route(
                    path: path, target: .template(TargetTemplate(target, captures: PathTemplate(path)?.captureNames ?? [])), allow: allow)
                : try Route(path: path, target: HostPort(parsing: target))
        }
        let table = RouteTable([
            try route("/vnc", "127.0.0.1:1"),
            try route("/vnc/{host}/{port}", "{host}:{port}"),
            try route("/vnc/local/{port}", "127.0.0.1:{port}"),
            try route("/vnc/special/5900", "127.0.0.1:2"),
        ])
        XCTAssertEqual(table.match(path: "/vnc/special/5900", host: nil)?.path, "/vnc/special/5900", "an exact path first")
        XCTAssertEqual(table.match(path: "/vnc/local/5900", host: nil)?.path, "/vnc/local/{port}", "more literal segments first")
        XCTAssertEqual(table.match(path: "/vnc/10.0.0.1/5900", host: nil)?.path, "/vnc/{host}/{port}")
        XCTAssertEqual(table.match(path: "/vnc/a/b/c", host: nil)?.path, "/vnc", "then the longest prefix")
        XCTAssertEqual(table.match(path: "/vnc", host: nil)?.path, "/vnc")
    }

    func testRefusalLabelsLandOnTheirFailureReasons() {
        let labels = [
            "forbidden_target", "bad_capture", "unknown_token", "resolver_failed", "resolver_timeout", "resolver_refused", "jwt_expired",
            "jwt_not_yet_valid", "jwt_bad_signature", "jwt_wrong_audience", "jwt_invalid", "refused",
        ]
        for label in labels { XCTAssertEqual(FailureReason(refusalReason: label).rawValue, label) }
        XCTAssertEqual(FailureReason(refusalReason: "made_up"), .refused)
        XCTAssertEqual(FailureReason(refusalReason: "shutdown"), .refused, "a source cannot claim the server's own labels")
        let refusal = Refusal(TargetRefusal(status: 504, message: "slow\r\nresolver", reason: "resolver_timeout"))
        XCTAssertEqual(refusal.reasonPhrase, "Gateway Timeout")
        XCTAssertEqual(refusal.message, "slow  resolver")
        XCTAssertEqual(refusal.failure, .resolverTimeout)
        XCTAssertEqual(Refusal(TargetRefusal(status: 499, message: "x", reason: "refused")).reasonPhrase, "Refused")
        XCTAssertEqual(Refusal(TargetRefusal(status: 302, message: "x", reason: "refused")).status, 502, "only error statuses")
    }
}
