import Foundation
import PurrCore

/// One message from the browser: the original's `{src, seq, cmd, args}`, plus the `origin` of the
/// page that asked, which our extension's background stamps from the sender (never from the page).
struct HostRequest: Sendable {
    /// Echoed back as `dst`; the tab that asked.
    var src: JSONValue
    /// Echoed back as `seq`.
    var seq: JSONValue
    /// Nil when missing or not a string.
    var cmd: String?
    var args: JSONValue?
    /// Nil from the original extension, which did not send one.
    var origin: String?
    /// An `origin` that is there but not a string: refused, whatever the config says.
    var originIsInvalid = false

    /// Why a message could not be read at all.
    enum Failure: Error, Equatable {
        case notJSON
        case notObject
    }

    static func parse(_ bytes: [UInt8]) -> Result<HostRequest, Failure> {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else { return .failure(.notJSON) }
        guard case .object = value, let request = value.decode(HostRequest.self) else { return .failure(.notObject) }
        return .success(request)
    }
}

extension HostRequest: Decodable {
    enum CodingKeys: String, CodingKey {
        case src, seq, cmd, args, origin
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        src = try container.decodeIfPresent(JSONValue.self, forKey: .src) ?? .null
        seq = try container.decodeIfPresent(JSONValue.self, forKey: .seq) ?? .null
        cmd = try? container.decodeIfPresent(String.self, forKey: .cmd)
        args = try container.decodeIfPresent(JSONValue.self, forKey: .args)
        origin = try? container.decodeIfPresent(String.self, forKey: .origin)
        originIsInvalid = origin == nil && container.contains(.origin)
    }
}

/// `open`'s arguments: the server URL (a `token` in its query is sent as `Authorization: Bearer`,
/// not in the request line), and optionally `upgrade: "websocket"` for proxies that pass only those.
struct OpenArguments: Decodable {
    var url: String
    var upgrade: String?
    /// `socks5`, `http-proxy` or `proxy` for a dynamic tunnel (then `url` is a template); absent: fixed.
    var mode: String?
    /// A dynamic tunnel's own allow list, as in tunnels.toml.
    var allow: [String]?

    func tunnelConfig(name: String) throws(ConfigError) -> TunnelConfig {
        let mode = try DynamicOpen.mode(self.mode)
        var serverURL = try DynamicOpen.serverURL(url, mode: mode)
        var token: String?
        if let target = RequestTarget(serverURL.path), let found = target.value(of: PresentedToken.queryName) {
            token = found
            serverURL.path = target.removing(PresentedToken.queryName)
        }
        if let token, token.isEmpty { throw ConfigError("'\(url.redactingQuery.printableLine)': the token is empty") }
        // Percent-decoded, it could hold CR LF: nothing but token68 may reach `Authorization: Bearer`.
        if let token, !HeadValidation.isToken68(token) { throw ConfigError("args.url: token: \(HeadValidation.notToken68)") }
        var config = TunnelConfig(name: name, url: serverURL, listen: ListenAddress(host: "localhost", port: 0), token: token)
        try DynamicOpen.apply(mode: mode, allow: allow, to: &config)
        if let upgrade {
            guard let chosen = UpgradeProtocol(rawValue: upgrade) else {
                throw ConfigError("args.upgrade: '\(upgrade)' is not purr or websocket")
            }
            config.upgrade = chosen
        }
        try config.validateHead()
        return config
    }
}

/// `close`'s arguments.
struct CloseArguments: Decodable {
    var port: Int
}

/// `allow` and `revoke`: an origin pattern like `https://console.example.com` or `http://127.0.0.1:*`.
struct OriginArguments: Decodable {
    var origin: String
}

/// `tunnels` from the popup names the tab it shows; a page gets its own tab's.
struct TunnelsArguments: Decodable {
    var tab: JSONValue?
}
