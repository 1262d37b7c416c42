import Foundation
import PurrClient
import PurrCore
import XCTest

@testable import PurrTUI

/// Server labels come from the snapshot's host and port, not from its redacted URL (no sockets).
final class ServerSummaryTests: XCTestCase {
    private func server(_ index: Int, _ host: String, _ port: Int, url: String = "http://shown.example/x") -> ServerHealthSnapshot {
        ServerHealthSnapshot(index: index, url: url, health: .up, host: host, port: port)
    }

    func testLabelsFromHostAndPort() {
        let cases: [([ServerHealthSnapshot], [Int: String], String)] = [
            ([server(0, "a.example", 80), server(1, "b.example", 80)], [0: "a.example", 1: "b.example"], "hosts differ: the host"),
            ([server(0, "h", 8081), server(1, "h", 8082)], [0: "h:8081", 1: "h:8082"], "same host: host:port"),
            ([server(0, "h", 80), server(1, "h", 80)], [0: "#1", 1: "#2"], "same host and port: the list's numbers"),
            ([server(0, "::1", 443)], [0: "[::1]"], "IPv6 in brackets"),
            ([server(0, "::1", 1), server(1, "::1", 2)], [0: "[::1]:1", 1: "[::1]:2"], "IPv6 with its port"),
            ([server(0, "", 0), server(1, "b", 80)], [0: "#1", 1: "b"], "an unknown URL: its number"),
            ([server(0, "a", 1), server(1, "a", 1), server(2, "b", 1)], [0: "#1", 1: "#2", 2: "b"], "mixed"),
        ]
        for (servers, labels, why) in cases { XCTAssertEqual(ServerSummary.labels(servers), labels, why) }
        // The label never comes from the shown URL.
        XCTAssertEqual(ServerSummary.labels([server(0, "real.example", 1, url: "http://other.example/")]), [0: "real.example"])
    }

    /// A snapshot made from a shown URL alone reads its host and port the way a `ServerURL` does.
    func testHostAndPortFromAShownURL() {
        let cases: [(String, String, Int)] = [
            ("http://a.example:8080/ssh?token=REDACTED", "a.example", 8080),
            ("https://[::1]/x", "::1", 443),
            ("wss://w.example/t/{host}/{port}", "w.example", 443),
            ("?", "", 0),
        ]
        for (url, host, port) in cases {
            let snapshot = ServerHealthSnapshot(index: 0, url: url, health: .up)
            XCTAssertEqual(snapshot.host, host, url)
            XCTAssertEqual(snapshot.port, port, url)
        }
    }

    func testWithoutScheme() {
        let cases: [(String, String)] = [
            ("http://b.example:8080/ssh", "b.example:8080/ssh"),
            ("https://[::1]/x?token=REDACTED", "[::1]/x?token=REDACTED"),
            ("http://h", "h"),
            ("?", "?"),
            ("not a url", "not a url"),
        ]
        for (url, shown) in cases { XCTAssertEqual(ServerSummary.withoutScheme(url), shown, url) }
    }
}
