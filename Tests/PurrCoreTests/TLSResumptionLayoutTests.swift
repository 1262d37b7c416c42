import Logging
import NIOSSL
import XCTest

@testable import PurrCore

/// TLS resumption reads swift-nio-ssl's private stored properties (it has no public API for a client's
/// sessions): when a dependency bump moves them, this fails and says what moved, instead of every
/// connection quietly making a full handshake.
final class TLSResumptionLayoutTests: XCTestCase {
    func testSwiftNIOSSLStillKeepsThePointersResumptionReads() {
        XCTAssertNil(
            BoringSSLAccess.layoutProblem,
            "swift-nio-ssl's private layout changed: update BoringSSLAccess (or use its public session API if it has one now)")
    }

    func testACacheAttachesToAClientContextOnce() throws {
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        let cache = TLSSessionCache(logger: .init(label: "test"))
        XCTAssertTrue(cache.attach(to: context))
        XCTAssertTrue(cache.attach(to: context), "attaching again to its own context is fine")
        XCTAssertFalse(TLSSessionCache(logger: .init(label: "test")).attach(to: context), "one cache a context")
        let handler = try NIOSSLClientHandler(context: context, serverHostname: "localhost")
        TLSSessionCache.prepare(handler, context: context, host: "localhost", port: 443)
        XCTAssertEqual(cache.counts, TLSSessionCache.Counts(), "nothing counted before a handshake")
    }
}
