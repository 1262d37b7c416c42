import Foundation

/// Which extension started the host, from what the browser passed on its command line. Messages reach
/// the host only from that extension's background, so only its own pages count as "the extension".
public enum NativeHostCaller: Sendable, Equatable {
    /// Started by hand (a terminal, a test): Purr's Chrome extension id is the one extension origin.
    case unknown
    /// Chrome or Chromium: the caller's origin, `chrome-extension://ID` (one of the host manifest's
    /// `allowed_origins`, which `--install` writes: Purr's, unless `--extension-id` said otherwise).
    case chrome(origin: String)
    /// Firefox: the caller's extension id. Its pages' `moz-extension://UUID` is random per profile, and
    /// Firefox connects a host to the one extension its manifest allows.
    case firefox(extensionID: String)

    /// From `--caller`: `chrome-extension://ID/`, `firefox:ID`, or nothing.
    public init(argument: String?) {
        guard let argument else {
            self = .unknown
            return
        }
        if argument.hasPrefix("firefox:") {
            self = .firefox(extensionID: String(argument.dropFirst("firefox:".count)))
        } else if argument.hasPrefix("chrome-extension://") {
            self = .chrome(origin: Self.trimmed(argument))
        } else {
            self = .unknown
        }
    }

    /// Whether `origin` is one of the extension's own pages (its popup, its background).
    public func isOwnExtension(_ origin: String) -> Bool {
        let origin = Self.trimmed(origin)
        switch self {
        case .unknown:
            return origin == "chrome-extension://\(NativeHostManifest.chromeExtensionID)"
        case .chrome(let caller):
            return origin == caller
        case .firefox:
            guard let components = URLComponents(string: origin, encodingInvalidCharacters: false) else { return false }
            // `rangeOfHost`, not `percentEncodedHost`: that is nil for a host that is no valid punycode.
            return components.scheme == "moz-extension" && components.rangeOfHost?.isEmpty == false
                && components.percentEncodedUser == nil && components.port == nil && components.percentEncodedPath.isEmpty
                && components.percentEncodedQuery == nil && components.percentEncodedFragment == nil
        }
    }

    /// Whether `origin` names some extension's page (any browser's `...-extension://`).
    static func isExtensionScheme(_ origin: String) -> Bool {
        // Read leniently: a broken origin of an extension scheme is still an extension's, and refused as one.
        guard let components = URLComponents(string: origin), components.rangeOfHost != nil else { return false }
        return components.scheme?.lowercased().hasSuffix("-extension") == true
    }

    private static func trimmed(_ origin: String) -> String {
        origin.hasSuffix("/") ? String(origin.dropLast()) : origin
    }
}
