import Logging
import PurrCore
import Synchronization

/// Where a tunnel's proxy authentication stands, for its log lines and the TUI.
public struct ProxyAuthState: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// No connection through the proxy has been answered yet.
        case waiting
        /// The proxy asked for nothing (or nothing was chosen) and let the CONNECT through.
        case open
        /// The proxy accepted `scheme`; `mutual`: it proved itself too (Negotiate).
        case accepted(mutual: Bool)
        /// Authentication failed, in one line (a missing ticket, no credentials, a token that did not verify).
        case failed(String)
    }

    /// The proxy's host and port.
    public var proxy: HostPort
    /// "Negotiate", "NTLM", "Basic"; nil before one was chosen.
    public var scheme: String?
    public var phase: Phase = .waiting

    /// For the TUI: "Negotiate ok (mutual)", "NTLM failed: ...", "waiting".
    public var summary: String {
        switch phase {
        case .waiting: return scheme.map { "\($0) chosen" } ?? "waiting"
        case .open: return "no auth"
        case .accepted(let mutual): return "\(scheme ?? "?") ok" + (mutual ? " (mutual)" : "")
        case .failed(let reason): return "\(scheme ?? "auth") failed: \(reason)"
        }
    }
}

/// One tunnel's proxy authentication state, shared by its connections (each has its own authenticator):
/// a line is logged only when the choice or the outcome changes, not for every connection.
public final class ProxyAuthStatus: Sendable {
    private let state: Mutex<ProxyAuthState>
    private let logger: Logger

    init(proxy: HostPort, logger: Logger) {
        self.logger = logger
        state = Mutex(ProxyAuthState(proxy: proxy))
    }

    public var snapshot: ProxyAuthState { state.withLock { $0 } }

    func chose(_ scheme: String, offered: [String]) {
        let changed = state.withLock { state -> Bool in
            defer { state.scheme = scheme }
            return state.scheme != scheme
        }
        guard changed else { return }
        let offers = offered.isEmpty ? "" : " (the proxy offers \(offered.joined(separator: ", ")))"
        logger.info("proxy authentication: \(scheme)\(offers)")
    }

    func settled(_ phase: ProxyAuthState.Phase) {
        let (changed, scheme) = state.withLock { state -> (Bool, String?) in
            defer { state.phase = phase }
            return (state.phase != phase, state.scheme)
        }
        guard changed else { return }
        switch phase {
        case .waiting: break
        case .open: logger.debug("proxy authentication: none asked for")
        case .accepted(let mutual):
            logger.info(
                "proxy authentication: \(scheme ?? "?") accepted\(mutual ? " (the proxy proved itself: mutual authentication)" : "")")
        case .failed: break  // the connection's failure line says it
        }
    }
}

/// The tunnels' proxy authentication states, by tunnel name (a tunnel makes a dialer, and so a
/// factory, per connection; the state outlives them).
public final class ProxyAuthBoard: Sendable {
    public static let shared = ProxyAuthBoard()
    private let statuses = Mutex([String: (proxy: HostPort, status: ProxyAuthStatus)]())

    /// The state of tunnel `name` through `proxy` (made on first use, and anew for another proxy).
    public func status(tunnel name: String, proxy: ProxySettings) -> ProxyAuthStatus {
        statuses.withLock { statuses in
            if let entry = statuses[name], entry.proxy == proxy.endpoint { return entry.status }
            var logger = Logger(label: "purr")
            logger[metadataKey: "tunnel"] = "\(name)"
            logger[metadataKey: "proxy"] = "\(proxy.endpoint)"
            let status = ProxyAuthStatus(proxy: proxy.endpoint, logger: logger)
            statuses[name] = (proxy.endpoint, status)
            return status
        }
    }

    /// What the TUI shows for tunnel `name`; nil: no connection through a proxy yet.
    public func state(tunnel name: String) -> ProxyAuthState? {
        statuses.withLock { $0[name]?.status }?.snapshot
    }

    /// The TUI's words for tunnel `config`'s proxy: "proxy localhost:3128 · Negotiate ok (mutual)"; the
    /// configured proxy alone before a connection went through it; nil without a proxy.
    public func line(for config: TunnelConfig) -> String? {
        if let state = state(tunnel: config.name) { return "proxy \(state.proxy) · \(state.summary)" }
        return config.proxy.map { "proxy \($0.endpoint)" }
    }

    /// Forgets tunnel `name` (removed or reconfigured).
    public func forget(tunnel name: String) {
        _ = statuses.withLock { $0.removeValue(forKey: name) }
    }
}
