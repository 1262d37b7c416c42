import Foundation
import PurrCore

/// The URL of a plain HTTP proxy request (`GET http://host[:port]/path?query HTTP/1.1`, absolute form,
/// RFC 9112 3.2.2), read by Foundation's `URLComponents` like every other client URL: strictly, a
/// character a URL may not hold is refused, not encoded. What the target gets is the origin form (path and
/// query exactly as sent) and the URL's authority as its `Host`.
struct ProxyRequestURL: Equatable {
    /// Why a URL is refused: one line for the app's 400 answer and the log.
    enum Refusal: Error, Equatable {
        /// Not `http://host...`: a path alone, another scheme (`https://` goes through CONNECT).
        case notAbsoluteHTTP
        /// `URLComponents` refused it: a space, a control or non-ASCII character, a bad escape or bracket.
        case unreadable
        /// `user:password@` before the host: a proxy's credentials go in `Proxy-Authorization`.
        case credentials
        /// A `#fragment`, which a request never carries.
        case fragment
        /// No host, or not a name or an IPv4 or IPv6 literal.
        case badHost
        /// A port that is not a number 1-65535.
        case badPort

        var message: String {
            switch self {
            case .notAbsoluteHTTP: return "expected CONNECT host:port or an absolute http:// URL"
            case .unreadable: return "not a URL (a character that must be percent-encoded, or a bad port or bracket)"
            case .credentials: return "credentials in the URL are not supported (use Proxy-Authorization)"
            case .fragment: return "a request URL has no #fragment"
            case .badHost: return "bad host"
            case .badPort: return "the port must be a number 1-65535"
            }
        }
    }

    let target: DynamicTarget
    /// The request target for the target itself: the path (`/` when empty) and any query, as sent.
    let originForm: String
    /// The `Host` field: the URL's host and port as written (an empty port left out).
    let hostField: String

    init(parsing uri: String) throws(Refusal) {
        guard let components = URLComponents(string: uri, encodingInvalidCharacters: false) else {
            // Tell a wrong scheme from a broken URL: `https://ü/` is refused for its scheme.
            throw uri.prefix(7).lowercased() == "http://" ? .unreadable : .notAbsoluteHTTP
        }
        // The host as written: `percentEncodedHost` is Foundation's reading of it (punycode decoded,
        // `xn--bcher-kva` as `b%C3%BCcher`; nil past a length), which no resolver takes.
        guard components.scheme?.lowercased() == "http", let hostRange = components.rangeOfHost else { throw .notAbsoluteHTTP }
        let host = String(uri[hostRange])
        guard components.percentEncodedUser == nil, components.percentEncodedPassword == nil else { throw .credentials }
        guard components.percentEncodedFragment == nil else { throw .fragment }
        let port = components.port ?? 80
        guard !components.hasUnreadablePort, (1...65535).contains(port) else { throw .badPort }
        // Brackets go with an IPv6 literal and only with one (`[a.example]` is no host).
        let bracketed = host.hasPrefix("[") && host.hasSuffix("]")
        let bare = bracketed ? String(host.dropFirst().dropLast()) : host
        guard bracketed == bare.contains(":"), let target = DynamicTarget(host: bare, port: port) else { throw .badHost }
        self.target = target
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        originForm = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
        hostField = String(uri[hostRange.lowerBound..<(components.rangeOfPort?.upperBound ?? hostRange.upperBound)])
    }
}
