import NIOHTTP1
import PurrCore

/// `GET /healthz` on the upgrade listener, for load balancers and clients choosing a server: `200 ok`
/// while serving, `503 draining` with `Retry-After` while draining. No token, nothing else about the
/// server; `HEAD` the same without a body, any other method 405. The path is reserved: no route may
/// be there (`ServerConfig.checkReservedPaths`), and an upgrade request for it is refused.
enum HealthCheck {
    static let path = "/healthz"

    /// The verdict for a head whose target is `/healthz` (a query is ignored); nil for any other.
    static func verdict(for head: HTTPRequestHead, draining: Bool, retryAfter: Int) -> RouteVerdict? {
        guard isHealthPath(head.uri) else { return nil }
        // An upgrade asked for here is a client with a wrong URL, not a health check.
        if head.headers.contains(name: "upgrade") {
            return .refuse(.notFound("\(path) is the health check, not a route", .noRoute))
        }
        return .answer(answer(method: head.method, draining: draining, retryAfter: retryAfter))
    }

    static func answer(method: HTTPMethod, draining: Bool, retryAfter: Int) -> PlainAnswer {
        guard method == .GET || method == .HEAD else {
            return PlainAnswer(
                status: 405, reasonPhrase: "Method Not Allowed", body: "only GET and HEAD\n", headers: ["Allow: GET, HEAD"])
        }
        let headOnly = method == .HEAD
        if draining {
            return PlainAnswer(
                status: 503, reasonPhrase: "Service Unavailable", body: "draining\n", headers: ["Retry-After: \(retryAfter)"],
                headOnly: headOnly)
        }
        return PlainAnswer(status: 200, reasonPhrase: "OK", body: "ok\n", headOnly: headOnly)
    }

    /// `/healthz` or `/healthz?...`, compared on bytes (this runs for every request head).
    static func isHealthPath(_ uri: String) -> Bool {
        var rest = uri.utf8[...]
        for byte in path.utf8 {
            guard rest.first == byte else { return false }
            rest = rest.dropFirst()
        }
        return rest.isEmpty || rest.first == UInt8(ascii: "?")
    }
}
