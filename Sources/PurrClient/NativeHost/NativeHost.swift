import Foundation
import PurrCore
import Synchronization

/// The original Purr client's Native Messaging host, so the published browser extension works:
/// `open` a tunnel for a URL, `close` it by port, ask `status`, `exit`. Tunnels belong to the tab
/// (`src`) that opened them.
public final class NativeHost: Sendable {
    let engine: TunnelEngine
    let write: @Sendable ([UInt8]) -> Void
    private let owners = OwnerTable()

    /// - Parameter write: sends one framed message (to standard output).
    public init(engine: TunnelEngine, write: @escaping @Sendable ([UInt8]) -> Void) {
        self.engine = engine
        self.write = write
    }

    /// What the caller should do after a message.
    public enum Next: Sendable, Equatable {
        case carryOn
        case exit
    }

    /// Handles one message's bytes and writes its answer.
    public func handle(_ bytes: [UInt8]) async -> Next {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
            reply(["error": "message is not valid JSON"], to: nil)
            return .carryOn
        }
        guard let message = object as? [String: Any] else {
            reply(["error": "message must be a JSON object"], to: nil)
            return .carryOn
        }
        let header = Header(src: message["src"], seq: message["seq"])
        guard let command = message["cmd"] as? String else {
            reply(["error": "cmd must be a string"], to: header)
            return .carryOn
        }
        let args = message["args"]
        switch command {
        case "open":
            await open(args: args, header: header)
        case "close":
            await close(args: args, header: header)
        case "status":
            reply(["status": "running", "args": owners.ports(of: header.tab)], to: header)
        case "exit":
            await engine.shutdown()
            return .exit
        default:
            reply(["error": "unknown command '\(command)'"], to: header)
        }
        return .carryOn
    }

    private func open(args: Any?, header: Header) async {
        guard let args = args as? [String: Any], let urlText = args["url"] as? String else {
            reply(["error": "open needs args.url (a string)"], to: header)
            return
        }
        let url: ServerURL
        do {
            url = try ServerURL(parsing: urlText)
        } catch {
            reply(["error": error.message], to: header)
            return
        }
        let name = "tab \(header.tab) #\(owners.nextSerial())"
        let config = TunnelConfig(name: name, url: url, listen: ListenAddress(host: "localhost", port: 0))
        do {
            let tunnel = try engine.add(config)
            let state = await tunnel.open()
            guard state == .listening, let port = tunnel.snapshot.port else {
                await engine.remove(name)
                reply(["error": "cannot open tunnel: \(state)"], to: header)
                return
            }
            owners.add(tab: header.tab, port: port, name: name)
            reply(["status": "listening", "args": port], to: header)
        } catch {
            reply(["error": error.message], to: header)
        }
    }

    private func close(args: Any?, header: Header) async {
        guard let args = args as? [String: Any], let port = args["port"] as? Int else {
            reply(["error": "close needs args.port (a number)"], to: header)
            return
        }
        guard let name = owners.remove(tab: header.tab, port: port) else {
            reply(["error": "no tunnel on port \(port) for this tab"], to: header)
            return
        }
        await engine.remove(name)
        reply(["status": "closed", "args": port], to: header)
    }

    private func reply(_ body: [String: Any], to header: Header?) {
        var object = body
        object["dst"] = header?.src ?? NSNull()
        object["seq"] = header?.seq ?? NSNull()
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        write(NativeMessageFramer.frame(Array(data)))
    }

    /// Where a message came from; `src` and `seq` are echoed back as they were sent.
    struct Header: @unchecked Sendable {
        let src: Any?
        let seq: Any?

        /// A stable key for the tab, whatever JSON type `src` is.
        var tab: String {
            guard let src else { return "null" }
            if let data = try? JSONSerialization.data(withJSONObject: [src], options: [.sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return "\(src)"
        }
    }

    /// The browser manifest that points the browser at this binary.
    public static func manifest(browser: String, path: String, extensionID: String) throws(ConfigError) -> String {
        var object: [String: Any] = [
            "name": "purr",
            "description": "Purr: TCP tunnels over HTTP",
            "path": path,
            "type": "stdio",
        ]
        switch browser {
        case "chrome", "chromium": object["allowed_origins"] = ["chrome-extension://\(extensionID)/"]
        case "firefox": object["allowed_extensions"] = [extensionID]
        default: throw ConfigError("--manifest: '\(browser)' is not chrome or firefox")
        }
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data ?? Data(), as: UTF8.self)
    }
}

/// Which tab owns which tunnel.
final class OwnerTable: Sendable {
    private let table = Mutex<(serial: Int, entries: [(tab: String, port: Int, name: String)])>((0, []))

    func nextSerial() -> Int {
        table.withLock {
            $0.serial += 1
            return $0.serial
        }
    }

    func add(tab: String, port: Int, name: String) {
        table.withLock { $0.entries.append((tab, port, name)) }
    }

    func remove(tab: String, port: Int) -> String? {
        table.withLock { state in
            guard let index = state.entries.firstIndex(where: { $0.tab == tab && $0.port == port }) else { return nil }
            return state.entries.remove(at: index).name
        }
    }

    func ports(of tab: String) -> [Int] {
        table.withLock { $0.entries.filter { $0.tab == tab }.map(\.port) }
    }
}
