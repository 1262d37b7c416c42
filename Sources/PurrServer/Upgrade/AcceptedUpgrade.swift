import PurrCore

/// How an accepted request is answered and relayed: the original 101 and raw bytes, or a WebSocket.
enum AcceptedUpgrade: Equatable {
    /// `Upgrade: purr`: the original protocol.
    case purr
    /// `Upgrade: websocket` with the Purr headers and no key: the original's compatibility mode.
    case websocketCompat
    /// A real WebSocket (RFC 6455): the accept value and binary frames.
    case websocket(key: String, protocols: [String])

    init(_ request: UpgradeRequest) {
        if let key = request.webSocketKey {
            self = .websocket(key: key, protocols: request.webSocketProtocols)
        } else {
            self = request.upgrade == .websocket ? .websocketCompat : .purr
        }
    }

    var transport: Transport {
        switch self {
        case .purr: return .purr
        case .websocketCompat: return .websocketCompat
        case .websocket: return .websocket
        }
    }

    /// The 101, byte for byte.
    var response: String {
        switch self {
        case .purr: return UpgradeResponse.switching(.purr)
        case .websocketCompat: return UpgradeResponse.switching(.websocket)
        case .websocket(let key, let protocols): return WebSocketHandshake.switching(key: key, offered: protocols)
        }
    }
}
