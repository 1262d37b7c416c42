import PurrCore
import XCTest

final class HostPortTests: XCTestCase {
    func testParsesIPv4IPv6AndNames() throws {
        XCTAssertEqual(try HostPort(parsing: "127.0.0.1:8080"), HostPort(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(try HostPort(parsing: "[::1]:22"), HostPort(host: "::1", port: 22))
        XCTAssertEqual(try HostPort(parsing: "db.internal:5432"), HostPort(host: "db.internal", port: 5432))
        XCTAssertEqual(try HostPort(parsing: "localhost:0", allowZeroPort: true).port, 0)
        XCTAssertEqual(HostPort(host: "::1", port: 9).description, "[::1]:9")
    }

    func testRefusesBadAddressesWithAReason() {
        let cases: [(String, String)] = [
            ("8080", "expected HOST:PORT"),
            ("host:", "port must be a number"),
            ("host:99999", "port must be a number"),
            ("host:0", "port must be a number 1-65535"),
            (":80", "host is empty"),
            ("::1:80", "[ADDRESS]:PORT"),
            ("[::1:80", "missing ']'"),
            ("bad host:80", "characters"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try HostPort(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }
}
