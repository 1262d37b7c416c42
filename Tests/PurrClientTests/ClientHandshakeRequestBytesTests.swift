import NIOCore
import NIOEmbedded
import PurrCore
import XCTest

@testable import PurrClient

/// The request serialized once per tunnel: with each connection's key and id added, byte for byte what
/// `UpgradeRequest.encoded()` writes; a template that fails its check is not kept.
final class ClientHandshakeRequestBytesTests: XCTestCase {
    func testEveryShapeIsByteForByteTheEncodedRequest() throws {
        var templates: [UpgradeRequest] = [UpgradeRequest(path: "/t", host: "srv:8080")]
        var full = UpgradeRequest(
            path: "/a/b?x=1", host: "example.org", upgrade: .websocket, token: "abc.DEF-123",
            extraHeaders: [(name: "X-One", value: "1"), (name: "X-Two", value: "two words")])
        full.offersEarlyData = true
        templates.append(full)
        var compat = UpgradeRequest(path: "/c", host: "h", upgrade: .websocket)
        compat.offersEarlyData = true
        templates.append(compat)
        for template in templates {
            let prepared = try XCTUnwrap(RequestBytes(template))
            for (key, id) in [(nil, nil), (WebSocketHandshake.makeKey(), "t-7"), (nil as String?, "t-8" as String?)] {
                var request = template
                request.webSocketKey = key
                request.connectionID = id
                XCTAssertEqual(String(buffer: prepared.bytes(for: request, allocator: ByteBufferAllocator())), request.encoded())
            }
        }
        XCTAssertNil(RequestBytes(UpgradeRequest(path: "/t", host: "srv", token: "bad token")), "a bad token is not kept")
    }

    /// Through the handler: the prepared bytes go out, and an id that could end a line does not.
    func testTheHandlerSendsThePreparedBytesAndChecksTheId() throws {
        let template = UpgradeRequest(path: "/t", host: "srv:8080")
        var request = template
        request.connectionID = "t-1"
        let good = try ClientHandshakeHandlerTests.Connection(request: request, requestBytes: RequestBytes(template))
        XCTAssertEqual(try good.sent(), request.encoded())
        _ = try? good.channel.finish()
        request.connectionID = "t-1\r\nX-Injected: 1"
        let bad = try ClientHandshakeHandlerTests.Connection(request: request, requestBytes: RequestBytes(template))
        XCTAssertEqual(try bad.sent(), "")
        XCTAssertEqual(bad.failure?.kind, .local)
    }
}
