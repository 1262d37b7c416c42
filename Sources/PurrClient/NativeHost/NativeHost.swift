import Foundation
import PurrCore

/// The Native Messaging host behind the browser extension: the original Purr client's commands
/// (`open` a tunnel for a URL, `close` it by port, `status`, `exit`), plus `tunnels` (details),
/// `close-tab`, and the popup's `origins`, `allow` and `revoke`. Tunnels belong to the tab (`src`)
/// that opened them; pages whose origin is not allowed are refused.
public final class NativeHost: Sendable {
    let engine: TunnelEngine
    let write: @Sendable ([UInt8]) -> Void
    let origins: OriginPolicy
    private let owners = OwnerTable()

    /// - Parameters:
    ///   - write: sends one framed message (to standard output).
    ///   - tunnelsFile: where `[browser] allowed_origins` lives.
    ///   - caller: the extension the browser started us for (only its pages count as the extension).
    public init(
        engine: TunnelEngine, tunnelsFile: String = TunnelsFile.defaultPath(), caller: NativeHostCaller = .unknown,
        write: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.engine = engine
        self.write = write
        self.origins = OriginPolicy(file: tunnelsFile, caller: caller)
    }

    /// What the caller should do after a message.
    public enum Next: Sendable, Equatable {
        case carryOn
        case exit
    }

    /// The frame for an error that is nobody's reply (e.g. a message over the size limit).
    public static func errorFrame(_ message: String) -> [UInt8] {
        NativeMessageFramer.frame(HostReply(to: nil, .error(message)).bytes)
    }

    /// Handles one message's bytes and writes its answer.
    public func handle(_ bytes: [UInt8]) async -> Next {
        let request: HostRequest
        switch HostRequest.parse(bytes) {
        case .failure(.notJSON):
            write(Self.errorFrame("message is not valid JSON"))
            return .carryOn
        case .failure(.notObject):
            write(Self.errorFrame("message must be a JSON object"))
            return .carryOn
        case .success(let parsed):
            request = parsed
        }
        guard let command = request.cmd else {
            reply(to: request, .error("cmd must be a string"))
            return .carryOn
        }
        switch command {
        case "open", "close", "status", "tunnels":
            if let refusal = origins.refusal(for: request) {
                reply(to: request, .error(refusal))
                return .carryOn
            }
            await pageCommand(command, request)
        case "close-tab", "origins", "allow", "revoke":
            guard origins.isExtension(request) else {
                reply(to: request, .error("'\(command)' is only for the Purr extension's popup"))
                return .carryOn
            }
            if command == "close-tab" {
                let gone = owners.removeAll(tab: request.src.canonicalText)
                for entry in gone { await engine.remove(entry.name) }
                reply(to: request, .status("closed", .ports(gone.map(\.port))))
            } else {
                originCommand(command, request)
            }
        case "exit":
            // The original extension sent `exit` too; a page never may (every tab's tunnels would close).
            guard origins.isExtension(request) || origins.isLegacy(request) else {
                reply(to: request, .error("'exit' is only for the Purr extension's popup"))
                return .carryOn
            }
            await engine.shutdown()
            return .exit
        default:
            reply(to: request, .error("unknown command '\(command)'"))
        }
        return .carryOn
    }

    private func pageCommand(_ command: String, _ request: HostRequest) async {
        let tab = request.src.canonicalText
        switch command {
        case "open":
            await open(request, tab: tab)
        case "close":
            await close(request, tab: tab)
        case "status":
            reply(to: request, .status("running", .ports(owners.ports(of: tab))))
        default:
            // The popup names the tab it shows; a page sees its own.
            var shown = tab
            if origins.isExtension(request),
                let asked = request.args?.decode(TunnelsArguments.self)?.tab
            {
                shown = asked.canonicalText
            }
            let details = owners.entries(of: shown).compactMap { entry in
                engine.snapshot(of: entry.name).map { TunnelDetails(port: entry.port, snapshot: $0) }
            }
            reply(to: request, .status("tunnels", .tunnels(details)))
        }
    }

    private func open(_ request: HostRequest, tab: String) async {
        guard let arguments = request.args?.decode(OpenArguments.self) else {
            reply(to: request, .error("open needs args.url (a string)"))
            return
        }
        let name = "tab \(tab) #\(owners.nextSerial())"
        let config: TunnelConfig
        do {
            config = try arguments.tunnelConfig(name: name)
        } catch {
            reply(to: request, .error(error.message))
            return
        }
        do {
            let tunnel = try engine.add(config)
            let state = await tunnel.open()
            guard state == .listening, let port = tunnel.snapshot.port else {
                await engine.remove(name)
                reply(to: request, .error("cannot open tunnel: \(state)"))
                return
            }
            owners.add(tab: tab, port: port, name: name)
            reply(to: request, .status("listening", .port(port)))
        } catch {
            reply(to: request, .error(error.message))
        }
    }

    private func close(_ request: HostRequest, tab: String) async {
        guard let port = request.args?.decode(CloseArguments.self)?.port else {
            reply(to: request, .error("close needs args.port (a number)"))
            return
        }
        guard let name = owners.remove(tab: tab, port: port) else {
            reply(to: request, .error("no tunnel on port \(port) for this tab"))
            return
        }
        await engine.remove(name)
        reply(to: request, .status("closed", .port(port)))
    }

    private func originCommand(_ command: String, _ request: HostRequest) {
        if command != "origins" {
            guard let pattern = request.args?.decode(OriginArguments.self)?.origin else {
                reply(to: request, .error("\(command) needs args.origin (a string)"))
                return
            }
            do {
                if command == "allow" { try origins.allow(pattern) } else { try origins.revoke(pattern) }
            } catch {
                reply(to: request, .error(error.message))
                return
            }
        }
        reply(to: request, .status("origins", .origins(origins.list)))
    }

    private func reply(to request: HostRequest, _ body: HostReply.Body) {
        write(NativeMessageFramer.frame(HostReply(to: request, body).bytes))
    }
}
