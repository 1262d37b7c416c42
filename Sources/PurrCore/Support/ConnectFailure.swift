import NIOCore
import NIOPosix

/// Turns a failed connect into words: "connection refused", "timed out after 10 s", "host not found".
public enum ConnectFailure {
    public static func describe(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return describe(first.error) }
            if connection.dnsAError != nil || connection.dnsAAAAError != nil { return "host not found" }
            return "no address to connect to"
        }
        if let io = error as? IOError { return describe(errno: io.errnoCode) }
        if let channel = error as? ChannelError, case .connectTimeout(let amount) = channel {
            return "timed out after \(amount.nanoseconds / 1_000_000_000) s"
        }
        if error is SocketAddressError { return "host not found" }
        return "\(error)"
    }

    public static func describe(errno code: Int32) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ECONNRESET: return "connection reset"
        case ETIMEDOUT: return "timed out"
        case EHOSTUNREACH: return "host unreachable"
        case ENETUNREACH: return "network unreachable"
        case EMFILE, ENFILE: return "out of file descriptors"
        // From connect(): every local (ephemeral) port toward that destination is taken.
        case EADDRNOTAVAIL: return "no free local port (address not available)"
        case EPIPE: return "broken pipe"
        default: return String(cString: strerror(code))
        }
    }
}
