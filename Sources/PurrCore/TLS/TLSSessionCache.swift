internal import CNIOBoringSSL
import Foundation
import Logging
import NIOSSL
import Synchronization

/// TLS session resumption for a client: a new connection to a server offers a session (a TLS 1.3
/// ticket) that server gave before, so the handshake skips the certificate exchange and its checks.
///
/// One cache per tunnel. `attach(to:)` turns it on for a client context; every handler that
/// `ClientTLS.makeHandler` makes from that context then offers the newest usable session for its
/// server. BoringSSL hands new sessions and finished handshakes to C callbacks, which find the cache
/// through the context's ex-data and the server through the connection's. swift-nio-ssl has no API
/// for this, see `BoringSSLAccess`.
public final class TLSSessionCache: Sendable {
    /// Finished handshakes: all of them, and those that resumed a session.
    public struct Counts: Sendable, Equatable {
        public var handshakes = 0
        public var resumed = 0
    }

    struct State {
        /// Per server ("host:port"), the sessions it gave, newest last; each holds one reference.
        var sessions: [String: [HeldSession]] = [:]
        var counts = Counts()
        /// The address of the `SSL_CTX` last attached to: only its connections give and get sessions.
        /// Compared, never dereferenced (a context at the same address later must be attached to count).
        var context: UInt?
    }

    /// A few per server, so concurrent connections can each use a session of their own.
    static let sessionsPerServer = 4
    static let serverLimit = 16

    private let state = Mutex(State())
    /// Whether the process has said resumption is off: one line for all tunnels.
    private static let offNoted = Atomic<Bool>(false)
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    deinit { flush() }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Turns resumption on for `context` (a client's, not yet used), the cache's current context from
    /// now on. False, after one warning line for the whole process (the first tunnel to attach, at its
    /// start), when this build of swift-nio-ssl does not show its internals or has callbacks of its own
    /// there; false too when another cache has `context`.
    @discardableResult
    public func attach(to context: NIOSSLContext) -> Bool {
        if let problem = BoringSSLAccess.layoutProblem {
            noteOff(problem)
            return false
        }
        guard contextSlot >= 0, connectionSlot >= 0, let sslContext = BoringSSLAccess.context(of: context) else {
            noteOff("swift-nio-ssl's context does not show its SSL_CTX")
            return false
        }
        if let attached = SSL_CTX_get_ex_data(sslContext, contextSlot) {
            guard attached == Unmanaged.passUnretained(self).toOpaque() else { return false }  // one cache a context
            makeCurrent(sslContext, fresh: false)
            return true
        }
        // Setting ours would silently replace callbacks swift-nio-ssl (a later version) set itself.
        guard SSL_CTX_sess_get_new_cb(sslContext) == nil, SSL_CTX_get_info_callback(sslContext) == nil else {
            noteOff("swift-nio-ssl's context has session or info callbacks of its own")
            return false
        }
        let retained = Unmanaged.passRetained(self)  // released by the slot's free callback, with the context
        guard SSL_CTX_set_ex_data(sslContext, contextSlot, retained.toOpaque()) == 1 else {
            retained.release()
            return false
        }
        makeCurrent(sslContext, fresh: true)
        _ = SSL_CTX_set_session_cache_mode(sslContext, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL)
        SSL_CTX_sess_set_new_cb(sslContext, tlsSessionCacheNewSession)
        SSL_CTX_set_info_callback(sslContext, tlsSessionCacheInfo)
        return true
    }

    /// Sessions of an earlier context were checked with its settings: they go, and its connections
    /// still up (a TLS 1.3 ticket may come at any time) neither give nor get one from now on. A
    /// `fresh` context may have the address of a freed one that was current: its sessions go too.
    private func makeCurrent(_ sslContext: OpaquePointer, fresh: Bool) {
        let address = UInt(bitPattern: sslContext)
        state.withLock { state in
            guard fresh || state.context != address else { return }
            Self.free(&state)
            state.context = address
        }
    }

    /// Prepares `handler`, just made from `context` and not yet in a pipeline: remembers its server and
    /// offers that server's session. Nothing when no cache is attached to `context`.
    public static func prepare(_ handler: NIOSSLClientHandler, context: NIOSSLContext, host: String, port: Int?) {
        guard contextSlot >= 0, let sslContext = BoringSSLAccess.context(of: context),
            let pointer = SSL_CTX_get_ex_data(sslContext, contextSlot)
        else { return }
        let cache = Unmanaged<TLSSessionCache>.fromOpaque(pointer).takeUnretainedValue()
        guard let ssl = BoringSSLAccess.connection(of: handler) else {
            cache.noteOff("swift-nio-ssl's handler does not show its SSL")
            return
        }
        guard SSL_get_ex_data(ssl, connectionSlot) == nil else { return }  // prepared already
        let server = port.map { HostPort(host: host, port: $0).description } ?? host
        let note = Unmanaged.passRetained(ServerNote(server))
        guard SSL_set_ex_data(ssl, connectionSlot, note.toOpaque()) == 1 else {
            note.release()
            return
        }
        cache.offer(to: ssl, context: sslContext, server: server)
    }

    func offer(to ssl: OpaquePointer, context: OpaquePointer, server: String) {
        let now = UInt64(Date().timeIntervalSince1970)
        let address = UInt(bitPattern: context)
        let offered = state.withLock { state -> HeldSession? in
            guard state.context == address, var sessions = state.sessions[server] else { return nil }
            while let newest = sessions.last, !Self.usable(newest.pointer, now: now) {
                SSL_SESSION_free(newest.pointer)
                sessions.removeLast()
            }
            defer { state.sessions[server] = sessions.isEmpty ? nil : sessions }
            guard let newest = sessions.last else { return nil }
            // A TLS 1.3 session is meant for one connection (reuse lets an observer link them); the
            // last one stays, for a burst of connections rather than a full handshake each.
            if sessions.count > 1 { return sessions.removeLast() }
            SSL_SESSION_up_ref(newest.pointer)
            return newest
        }
        guard let offered else { return }
        _ = SSL_set_session(ssl, offered.pointer)  // takes a reference of its own
        SSL_SESSION_free(offered.pointer)
    }

    /// Keeps `session` (taking the reference BoringSSL passes) when it can be resumed and comes from
    /// a connection of the context attached last.
    func store(_ session: OpaquePointer, context: OpaquePointer, server: String) -> Bool {
        guard SSL_SESSION_is_resumable(session) == 1 else { return false }
        let session = HeldSession(pointer: session)
        let address = UInt(bitPattern: context)
        return state.withLock { state in
            guard state.context == address else { return false }
            if state.sessions[server] == nil, state.sessions.count >= Self.serverLimit, let evicted = state.sessions.keys.first {
                for old in state.sessions.removeValue(forKey: evicted) ?? [] { SSL_SESSION_free(old.pointer) }
            }
            var sessions = state.sessions[server, default: []]
            sessions.append(session)
            if sessions.count > Self.sessionsPerServer { SSL_SESSION_free(sessions.removeFirst().pointer) }
            state.sessions[server] = sessions
            return true
        }
    }

    func finished(_ ssl: OpaquePointer, server: String) {
        let resumed = SSL_session_reused(ssl) == 1
        state.withLock { state in
            state.counts.handshakes += 1
            if resumed { state.counts.resumed += 1 }
        }
        logger.debug(resumed ? "TLS session resumed" : "TLS full handshake", metadata: ["server": "\(server)"])
    }

    func flush() {
        state.withLock { Self.free(&$0) }
    }

    /// Drops every session, releasing the cache's reference of each.
    private static func free(_ state: inout State) {
        for session in state.sessions.values.joined() { SSL_SESSION_free(session.pointer) }
        state.sessions = [:]
    }

    private func noteOff(_ why: String) {
        guard !Self.offNoted.exchange(true, ordering: .relaxed) else { return }
        logger.warning("TLS session resumption is off, every connection makes a full handshake: \(why) (swift-nio-ssl changed)")
    }

    private static func usable(_ session: OpaquePointer, now: UInt64) -> Bool {
        SSL_SESSION_is_resumable(session) == 1 && SSL_SESSION_get_time(session) + UInt64(SSL_SESSION_get_timeout(session)) > now
    }
}

/// An `SSL_SESSION*` the cache holds a reference of; BoringSSL sessions are immutable and their
/// reference counts atomic, so any thread may use one.
struct HeldSession: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// A connection's server, in its `SSL`'s ex-data.
private final class ServerNote: Sendable {
    let server: String
    init(_ server: String) { self.server = server }
}

/// The ex-data slot of a client `SSL_CTX` holding its cache; the reference goes with the context.
private let contextSlot: CInt = SSL_CTX_get_ex_new_index(0, nil, nil, nil) { _, pointer, _, _, _, _ in
    if let pointer { Unmanaged<TLSSessionCache>.fromOpaque(pointer).release() }
}

/// The ex-data slot of an `SSL` holding its server; the reference goes with the connection.
private let connectionSlot: CInt = SSL_get_ex_new_index(0, nil, nil, nil) { _, pointer, _, _, _, _ in
    if let pointer { Unmanaged<ServerNote>.fromOpaque(pointer).release() }
}

/// The cache, context and server of a connection that `prepare` saw. The `SSL` holds a reference of
/// its context, and the context one of the cache, so neither goes while the callback runs.
private func tlsSessionCacheLookup(_ ssl: OpaquePointer) -> (TLSSessionCache, OpaquePointer, String)? {
    guard let sslContext = SSL_get_SSL_CTX(ssl), let cache = SSL_CTX_get_ex_data(sslContext, contextSlot),
        let note = SSL_get_ex_data(ssl, connectionSlot)
    else { return nil }
    return (
        Unmanaged<TLSSessionCache>.fromOpaque(cache).takeUnretainedValue(), sslContext,
        Unmanaged<ServerNote>.fromOpaque(note).takeUnretainedValue().server
    )
}

/// BoringSSL's new-session callback: 1 when the cache took the session's reference.
private func tlsSessionCacheNewSession(_ ssl: OpaquePointer?, _ session: OpaquePointer?) -> CInt {
    guard let ssl, let session, let (cache, sslContext, server) = tlsSessionCacheLookup(ssl) else { return 0 }
    return cache.store(session, context: sslContext, server: server) ? 1 : 0
}

/// BoringSSL's info callback: counts and logs each finished handshake.
private func tlsSessionCacheInfo(_ ssl: OpaquePointer?, _ type: CInt, _ value: CInt) {
    guard type & SSL_CB_HANDSHAKE_DONE != 0, let ssl, let (cache, _, server) = tlsSessionCacheLookup(ssl) else { return }
    cache.finished(ssl, server: server)
}
