import PurrClient
import PurrCore

/// The add/edit form: name, URL, listen address, and what the local port speaks (the mode: fixed, or a
/// dynamic tunnel's socks5, http-proxy or proxy, with its allow list), validated before it is accepted.
public struct TunnelForm: Sendable, Equatable {
    public static let labels = ["Name", "URL", "Listen", "Mode", "Allow", "Target", "Servers"]
    /// Shown under the fields: what Mode, Allow, Target, URL and Servers take.
    public static let hint = "Mode: fixed, socks5, http-proxy, proxy, reverse · Allow: HOST:PORTS, comma-separated · Target: HOST:PORT"
    public static let serversHint = "URL: one or more (space or comma between) · Servers: failover (in order) or spread"
    /// The URL field holds a list: room for several long URLs.
    static let urlFieldLimit = 2000

    /// The tunnel being edited, or nil when adding.
    public var editing: String?
    public var values: [String]
    public var focus = 0
    public var error: String?

    public init(editing: TunnelConfig?) {
        self.editing = editing?.name
        values =
            editing.map {
                [
                    $0.name, $0.serverURLs.map(\.description).joined(separator: " "), $0.listen.description, $0.mode.rawValue,
                    $0.allow?.rules.map(\.description).joined(separator: ", ") ?? "", $0.target?.description ?? "",
                    $0.serverChoice.rawValue,
                ]
            } ?? ["", "http://", "127.0.0.1:0", TunnelMode.fixed.rawValue, "", "", ServerChoice.failover.rawValue]
    }

    public mutating func type(_ character: Character) {
        guard values[focus].count < (focus == 1 ? Self.urlFieldLimit : 200), character.isASCII, !character.isNewline else { return }
        values[focus].append(character)
        error = nil
    }

    public mutating func backspace() {
        if !values[focus].isEmpty { values[focus].removeLast() }
        error = nil
    }

    public mutating func next() { focus = (focus + 1) % values.count }
    public mutating func previous() { focus = (focus + values.count - 1) % values.count }

    /// The tunnel the form describes (keeping the other settings of `base`), or an error in words.
    public func build(base: TunnelConfig?) throws(ConfigError) -> TunnelConfig {
        let name = values[0].trimmingASCIIWhitespace()
        guard !name.isEmpty else { throw ConfigError("Name: must not be empty") }
        let modeText = values[3].trimmingASCIIWhitespace()
        let mode: TunnelMode
        do { mode = modeText.isEmpty ? .fixed : try TunnelMode(parsing: modeText) } catch { throw error.located("Mode") }
        // Several servers: URLs with spaces or commas between them (no URL holds either unescaped).
        let texts = values[1].split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
        guard !texts.isEmpty else { throw ConfigError("URL: must not be empty") }
        guard texts.count <= TunnelConfig.maxServers else {
            throw ConfigError("URL: at most \(TunnelConfig.maxServers) servers per tunnel")
        }
        var urls: [ServerURL] = []
        for (index, text) in texts.enumerated() {
            do {
                urls.append(mode.isDynamic ? try ServerURL(parsingTemplate: text) : try ServerURL(parsing: text))
            } catch { throw error.located(texts.count == 1 ? "URL" : "URL \(index + 1)") }
        }
        let url = urls[0]
        let choiceText = values.indices.contains(6) ? values[6].trimmingASCIIWhitespace() : ""
        let choice: ServerChoice
        do { choice = choiceText.isEmpty ? .failover : try ServerChoice(parsing: choiceText) } catch { throw error.located("Servers") }
        let listen: ListenAddress
        do { listen = try ListenAddress(parsing: values[2]) } catch { throw error.located("Listen") }
        let entries = values[4].split(separator: ",").map { String($0).trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
        var allow: AllowList?
        if !entries.isEmpty {
            guard mode.isDynamic else { throw ConfigError("Allow: only for a dynamic tunnel (Mode socks5, http-proxy or proxy)") }
            do { allow = try AllowList(entries) } catch { throw error.located("Allow") }
        }
        // A reverse tunnel relays what the server hands it to Target (it has no local port of its own).
        let targetText = values[5].trimmingASCIIWhitespace()
        var target: HostPort?
        if mode == .reverse {
            guard !targetText.isEmpty else { throw ConfigError("Target: a reverse tunnel needs the local service, like 127.0.0.1:22") }
            do { target = try HostPort(parsing: targetText) } catch { throw error.located("Target") }
        } else if !targetText.isEmpty {
            throw ConfigError("Target: only for a reverse tunnel (Mode reverse)")
        }
        var config = base ?? TunnelConfig(name: name, url: url)
        config.name = name
        config.url = url
        config.listen = listen
        config.mode = mode
        config.allow = allow
        config.target = target
        // A server the file gave its own token, CA or proxy keeps them while its URL stays in the list.
        let known = base?.moreServers ?? []
        config.moreServers = urls.dropFirst().map { url in known.first { $0.url == url } ?? TunnelServer(url: url) }
        config.serverChoice = choice
        if mode != .reverse { config.reverseName = nil }
        // The local port's password belongs to a dynamic tunnel only (kept from the file when it stays one).
        if !mode.isDynamic { config.proxyCredentials = nil }
        try config.validateHead()
        return config
    }
}
