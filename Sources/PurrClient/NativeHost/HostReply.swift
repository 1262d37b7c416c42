import Foundation

/// One message to the browser. The shapes are the original's (README: `purr native-host`):
/// `{"args":…,"dst":…,"seq":…,"status":…}` or `{"dst":…,"error":…,"seq":…}`, keys sorted, `dst` and
/// `seq` always present (null when unknown).
struct HostReply: Sendable, Equatable {
    var dst: JSONValue
    var seq: JSONValue
    var body: Body

    enum Body: Sendable, Equatable {
        case status(String, Arguments)
        case error(String)
    }

    /// What a reply carries in `args`.
    enum Arguments: Sendable, Equatable {
        case port(Int)
        case ports([Int])
        case tunnels([TunnelDetails])
        case origins(OriginList)
    }

    init(to request: HostRequest?, _ body: Body) {
        dst = request?.src ?? .null
        seq = request?.seq ?? .null
        self.body = body
    }

    /// The JSON text, as the original host wrote it (sorted keys, escaped slashes).
    var bytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array(#"{"dst":null,"error":"cannot encode reply","seq":null}"#.utf8)
    }
}

extension HostReply: Encodable {
    enum CodingKeys: String, CodingKey {
        case dst, seq, status, args, error
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dst, forKey: .dst)
        try container.encode(seq, forKey: .seq)
        switch body {
        case .status(let status, let arguments):
            try container.encode(status, forKey: .status)
            try container.encode(arguments, forKey: .args)
        case .error(let message):
            try container.encode(message, forKey: .error)
        }
    }
}

extension HostReply.Arguments: Encodable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .port(let port): try container.encode(port)
        case .ports(let ports): try container.encode(ports)
        case .tunnels(let tunnels): try container.encode(tunnels)
        case .origins(let origins): try container.encode(origins)
        }
    }
}

/// The `origins` reply: what may open tunnels, and who asked and was refused since the host started.
struct OriginList: Sendable, Equatable, Encodable {
    var allowed: [String]
    var refused: [String]
}
