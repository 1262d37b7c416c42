import NIOCore
import PurrCore

/// How an accepted request is answered and relayed: the original 101 and raw bytes, or a WebSocket.
enum AcceptedUpgrade: Equatable {
    /// `Upgrade: purr`: the original protocol (`earlyData`: the client asked whether we keep early bytes).
    case purr(earlyData: Bool)
    /// `Upgrade: websocket` with the Purr headers and no key: the original's compatibility mode.
    case websocketCompat(earlyData: Bool)
    /// A real WebSocket (RFC 6455): the accept value and binary frames.
    case websocket(key: String, protocols: [String])

    init(_ request: UpgradeRequest) {
        if let key = request.webSocketKey {
            self = .websocket(key: key, protocols: request.webSocketProtocols)
        } else {
            let earlyData = request.offersEarlyData
            self = request.upgrade == .websocket ? .websocketCompat(earlyData: earlyData) : .purr(earlyData: earlyData)
        }
    }

    var transport: Transport {
        switch self {
        case .purr: return .purr
        case .websocketCompat: return .websocketCompat
        case .websocket: return .websocket
        }
    }

    /// The 101, byte for byte, ready to write: the four original ones are built once, not per connection.
    var responseBytes: ByteBuffer {
        switch self {
        case .purr(let earlyData): return earlyData ? Self.switching.purrEarly : Self.switching.purr
        case .websocketCompat(let earlyData): return earlyData ? Self.switching.compatEarly : Self.switching.compat
        case .websocket: return ByteBuffer(string: response)
        }
    }

    private static let switching = (
        purr: ByteBuffer(string: UpgradeResponse.switching(.purr)),
        purrEarly: ByteBuffer(string: UpgradeResponse.switching(.purr, earlyData: true)),
        compat: ByteBuffer(string: UpgradeResponse.switching(.websocket)),
        compatEarly: ByteBuffer(string: UpgradeResponse.switching(.websocket, earlyData: true))
    )

    /// The 101, byte for byte.
    var response: String {
        switch self {
        // Bytes behind the head are always kept, so a client that asks is told it may send them early.
        case .purr(let earlyData): return UpgradeResponse.switching(.purr, earlyData: earlyData)
        case .websocketCompat(let earlyData): return UpgradeResponse.switching(.websocket, earlyData: earlyData)
        case .websocket(let key, let protocols): return WebSocketHandshake.switching(key: key, offered: protocols)
        }
    }
}
