import Foundation
import Logging
import PurrCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A route whose target is chosen by the presented token (Authorization: Bearer, Purr-Token, or
/// `?token=`) from a websockify-style token file. The file is checked on every use (one `stat`) and
/// read again when its inode, size or modification time changed: no restart, and relays already up
/// are not touched. A file that cannot be read refuses every token until it can.
public final class TokenFileSource: TargetSource {
    public let path: String
    let route: String
    private let state: Mutex<State>

    struct State {
        var signature: Signature?
        var file: TokenFile
        var logger: Logger?
        /// Problems found before a logger was there (the first load happens while the config is read).
        var pending: [String] = []
        var unreadable: String?
    }

    typealias Signature = FileStamp

    /// Reads the file once; a file that cannot be read at start is a configuration error.
    public init(path: String, route: String) throws(ConfigError) {
        self.path = path
        self.route = route
        guard let signature = Self.signature(of: path) else { throw ConfigError("'\(path)': cannot read: no such file") }
        let text: String
        do {
            text = try Self.read(path)
        } catch {
            throw ConfigError("'\(path)': \(error.message)")
        }
        let file = TokenFile(text: text, file: path)
        state = Mutex(State(signature: signature, file: file, pending: file.problems))
    }

    /// How many tokens are being served now.
    public var count: Int { state.withLock { $0.file.entries.count } }

    public func activate(logger: Logger) {
        let pending = state.withLock { state in
            state.logger = logger
            defer { state.pending = [] }
            return state.pending
        }
        for problem in pending { logger.warning("token file: bad line skipped", metadata: ["where": "\(problem)"]) }
        logger.info("token file loaded", metadata: ["file": "\(path)", "route": "\(route)", "tokens": "\(count)"])
    }

    public func target(for request: TargetRequest) async throws(TargetRefusal) -> HostPort {
        refresh()
        guard let token = request.token, !token.isEmpty else { throw .unknownToken(route: route, presented: false) }
        guard let target = state.withLock({ $0.file.target(for: token) }) else { throw .unknownToken(route: route, presented: true) }
        return target
    }

    /// Reads the file again if it changed since the last read; logs what the new version gets wrong.
    func refresh() {
        let now = Self.signature(of: path)
        var report: [String] = []
        let logger: Logger? = state.withLock { state -> Logger? in
            guard now != state.signature else { return nil }
            state.signature = now
            do throws(ConfigError) {
                guard now != nil else { throw ConfigError("cannot read: no such file") }
                state.file = TokenFile(text: try Self.read(path), file: path)
                state.unreadable = nil
                report = state.file.problems.map { "bad line skipped: \($0)" }
                report.append("token file reloaded: \(state.file.entries.count) tokens")
            } catch {
                // Deny rather than serve tokens the administrator may have just removed.
                state.file = TokenFile(text: "", file: path)
                if state.unreadable != error.message { report.append("token file unreadable, every token refused: \(error.message)") }
                state.unreadable = error.message
            }
            if state.logger == nil { state.pending += report }
            return state.logger
        }
        guard let logger else { return }
        for line in report { logger.notice("\(line)", metadata: ["file": "\(path)", "route": "\(route)"]) }
    }

    static func read(_ path: String) throws(ConfigError) -> String {
        SecretFileCheck.warn(path, program: "purr-server")
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let text = String(data: data, encoding: .utf8) else { throw ConfigError("not UTF-8 text") }
            return text
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("cannot read: \(TOMLReader.describe(error))")
        }
    }

    static func signature(of path: String) -> Signature? {
        FileStamp.of(path)
    }
}

extension DynamicRouteForm {
    /// `token_file = "tokens.txt"` (relative to the config file's directory).
    public static let tokenFile = DynamicRouteForm(selectors: ["token_file"]) { (entry) throws(ConfigError) -> RouteTarget in
        let path = entry.file(try entry.reader.requiredString("token_file"))
        let source = try entry.reader.wrap("token_file") { () throws(ConfigError) in try TokenFileSource(path: path, route: entry.path) }
        return .source(source, summary: "token file \(path)")
    }
}
