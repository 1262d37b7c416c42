import Foundation
import PurrCore
import XCTest

/// The one rule for every URL or target shown in a log, a screen or an error line (no sockets):
/// credentials become `***@`, every query value `REDACTED`.
final class URLRedactionTests: XCTestCase {
    func testTheRule() {
        let cases: [(String, String)] = [
            ("http://h:1/ssh", "http://h:1/ssh"),
            ("https://h/ssh?token=s3cret&x=1", "https://h/ssh?token=REDACTED&x=REDACTED"),
            ("http://bob:pw@proxy:3128", "http://***@proxy:3128"),
            ("http://bob@proxy:3128", "http://***@proxy:3128"),
            ("http://:pw@proxy", "http://***@proxy"),
            ("wss://u:p@h/vnc?token=abc#f", "wss://***@h/vnc?token=REDACTED"),
            ("http://[::1]:8080/a?k=v", "http://[::1]:8080/a?k=REDACTED"),
            // Only the user info: an `@` in a path or a query value is no credential.
            ("http://h/users/@me", "http://h/users/@me"),
            ("http://h/a?next=a@b", "http://h/a?next=REDACTED"),
            ("/vnc?x=1&token=s3cret#frag", "/vnc?x=REDACTED&token=REDACTED"),
            ("/p@q", "/p@q"),
            // What `URLComponents` cannot read is masked up to its last `@`.
            ("http://u:SECRET@h:x/e", "http://***@h:x/e"),
            ("http://u:SE/CRET@h/e", "http://***@h/e"),
            ("http://u:p@ss@h:1", "http://***@h:1"),
            ("bob:pw@proxy:3128", "***@proxy:3128"),
            ("u:SECRET@h:x/a b?token=t", "***@h:x/a b?token=REDACTED"),
            ("no url at all", "no url at all"),
            ("", ""),
        ]
        for (text, shown) in cases {
            XCTAssertEqual(TargetRedaction.redacting(text), shown, text)
            XCTAssertEqual(text.redactingQuery, shown, "the String spelling is the same rule: \(text)")
        }
        XCTAssertEqual(TargetRedaction.userInfoMarker, "***")
    }

    /// The line that refuses a URL never shows its password, however the URL is broken.
    func testHostileTextNeverShowsTheSecret() {
        let secret = "SECRETPASS"
        var texts = [
            "http://u:\(secret)@" + String(repeating: "h", count: 64 * 1024) + "/x",
            "http://u:\(secret)@h/" + String(repeating: "%", count: 65536),
        ]
        for junk in ["\u{0}", "\r\n", " ", "#", "?", "/", "[", "é", "@"] {
            texts += ["http://u:\(junk)\(secret)@h:1/a", "http://u:\(secret)\(junk)@h:1/a", "http://u\(junk):\(secret)@h:1/a"]
        }
        for text in texts {
            let shown = TargetRedaction.redacting(text, refused: true)
            XCTAssertFalse(shown.contains(secret), shown.prefix(200).debugDescription)
            XCTAssertTrue(shown.contains("***@"), shown.prefix(200).debugDescription)
        }
        // Shown as a URL that works: what `URLComponents` reads as user info, and a fragment, are hidden.
        // (A `/` or `?` before the `@` makes the rest a path or a query: a URL that works and has no
        // password; only a refusal line hides it.)
        for junk in ["\u{0}", "\r\n", " ", "#", "[", "é", "@"] {
            for text in ["http://u:\(junk)\(secret)@h:1/a", "http://u:\(secret)\(junk)@h:1/a", "http://u\(junk):\(secret)@h:1/a"] {
                XCTAssertFalse(TargetRedaction.redacting(text).contains(secret), text.debugDescription)
            }
        }
    }

    func testRefusedTextIsMaskedToItsLastAt() {
        XCTAssertEqual(TargetRedaction.redacting("http://h/users/@me", refused: true), "http://***@me")
        XCTAssertEqual(TargetRedaction.redacting("u:p@h:1", refused: true), "***@h:1")
        XCTAssertEqual(TargetRedaction.redacting("http://h/a?token=t", refused: true), "http://h/a?token=REDACTED")
    }
}
