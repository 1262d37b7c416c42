/// The wire strings of the original Purr 0.1.x protocol: the one place they live.
public enum PurrWire {
    /// The `Purr-Version` our client sends: the wire protocol version, not our software version.
    public static let clientVersion = "0.1.2"
    /// The versions our server accepts.
    public static let acceptedVersions: Set<String> = ["0.1.0", "0.1.1", "0.1.2"]
    /// The `User-Agent` of the original Go client, which we send unchanged for compatibility.
    public static let userAgent = "Purr Client 0.1.2"
    public static let requestMagic = "MEOW"

    public enum Header {
        public static let purrRequest = "Purr-Request"
        public static let purrVersion = "Purr-Version"
        public static let purrToken = "Purr-Token"
        public static let upgrade = "Upgrade"
        public static let connection = "Connection"
        public static let authorization = "Authorization"
        public static let host = "Host"
        /// Ours, ignored by the original server. In a request: this client may send the app's first bytes
        /// right behind the head. In a 101: this server keeps such bytes (so the client may, next time).
        public static let earlyData = "Purr-Early-Data"
        /// Our extension: the client's id for one connection (`<client instance>/<tunnel>/<n>`), so a
        /// viewer can join the client's and the server's view of it. Never a secret; the original ignores it.
        public static let purrConnection = "Purr-Connection"
    }

    /// Largest request or response head we accept.
    public static let maxHeadSize = 16 * 1024
}

/// The two upgrade tokens the original server accepts.
public enum UpgradeProtocol: String, Sendable, CaseIterable {
    case purr
    case websocket

    /// Parses an `Upgrade` header value (case-insensitive, first matching token of a list).
    public init?(headerValue: String) {
        var found: UpgradeProtocol?
        _ = HeaderTokens.first(in: headerValue) { token in
            found = Self.allCases.first { HeaderTokens.equalIgnoringCase(token, $0.rawValue.utf8) }
            return found != nil
        }
        guard let found else { return nil }
        self = found
    }
}
