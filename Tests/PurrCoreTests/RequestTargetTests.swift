import NIOHTTP1
import PurrCore
import XCTest

/// The one reading of request targets, the one token extractor and the one redaction rule (no sockets).
final class RequestTargetTests: XCTestCase {
    func testQueryValuesArePercentDecodedAndAPlusStaysAPlus() throws {
        let target = try XCTUnwrap(RequestTarget("/vnc?token=a%2Fb%2B+c&x=1&flag"))
        XCTAssertEqual(target.path, "/vnc")
        XCTAssertEqual(target.value(of: "token"), "a/b++c", "a query is not a form: '+' is a plus (token68 has it)")
        XCTAssertEqual(target.value(of: "x"), "1")
        XCTAssertEqual(target.value(of: "flag"), "", "an item without '=' has an empty value")
        XCTAssertNil(target.value(of: "tokens"))
        XCTAssertNil(RequestTarget("/vnc?tokens=a")?.value(of: "token"))
        XCTAssertEqual(RequestTarget("/a?token=first&token=second")?.value(of: "token"), "first")
        XCTAssertEqual(RequestTarget("/p%20q?x=1")?.path, "/p%20q", "the path stays as sent")
    }

    func testWhatIsNoURLReferenceIsRefused() {
        XCTAssertNil(RequestTarget("/a b?token=x"))
        XCTAssertNil(RequestTarget("/a?token=%zz"))
        XCTAssertNil(RequestTarget("/a\r\nX: y"))
    }

    func testRemovingAnItemKeepsTheOthersAsSent() throws {
        let target = try XCTUnwrap(RequestTarget("/t?v=a%20b&token=s3cret&w"))
        XCTAssertEqual(target.removing("token"), "/t?v=a%20b&w")
        XCTAssertEqual(RequestTarget("/t?token=s3cret")?.removing("token"), "/t")
        XCTAssertEqual(RequestTarget("/t")?.removing("token"), "/t")
    }

    func testEveryQueryValueIsHiddenNamesKeptFragmentDropped() {
        XCTAssertEqual("/vnc?x=1&token=s3cret#frag".redactingQuery, "/vnc?x=REDACTED&token=REDACTED")
        XCTAssertEqual("wss://example.com/vnc?token=abc".redactingQuery, "wss://example.com/vnc?token=REDACTED")
        XCTAssertEqual("/vnc".redactingQuery, "/vnc")
        XCTAssertEqual("/vnc?".redactingQuery, "/vnc?")
        XCTAssertEqual("/vnc?flag&k=".redactingQuery, "/vnc?flag&k=REDACTED")
        XCTAssertEqual("/vnc?a=b=c".redactingQuery, "/vnc?a=REDACTED", "the value runs to the next '&'")
        // Textual: what URLComponents cannot read is hidden the same way (a malformed target in an error line).
        XCTAssertEqual("/a b?token=s3 cret&x=%zz".redactingQuery, "/a b?token=REDACTED&x=REDACTED")
        XCTAssertEqual(TargetRedaction.marker, "REDACTED")
    }

    func testTheTokenIsBearerThenPurrTokenThenTheQuery() {
        func head(_ fields: [(String, String)], uri: String = "/r") -> HTTPRequestHead {
            HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders(fields))
        }
        let all = head([("Authorization", "Bearer b1"), ("Purr-Token", "p1")], uri: "/r?token=q1")
        XCTAssertEqual(PresentedToken.find(in: all), "b1")
        XCTAssertEqual(PresentedToken.find(in: head([("Purr-Token", "p1")], uri: "/r?token=q1")), "p1")
        XCTAssertEqual(PresentedToken.find(in: head([], uri: "/r?token=q%2B1")), "q+1")
        XCTAssertEqual(PresentedToken.find(in: head([("authorization", "bEaReR   b2  ")])), "b2", "scheme in any case, spaces trimmed")
        // Another scheme is no bearer token: the next place is asked.
        XCTAssertEqual(PresentedToken.find(in: head([("Authorization", "Basic dTpw"), ("Purr-Token", "p1")])), "p1")
        XCTAssertNil(PresentedToken.find(in: head([("Authorization", "Basic dTpw")])))
        XCTAssertNil(PresentedToken.find(in: head([], uri: "/r?tokens=x")))
        XCTAssertNil(PresentedToken.bearer("Bearer"))
    }
}
