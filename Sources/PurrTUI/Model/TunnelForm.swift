import PurrClient
import PurrCore

/// The add/edit form: name, URL and listen address, validated before it is accepted.
public struct TunnelForm: Sendable, Equatable {
    public static let labels = ["Name", "URL", "Listen"]

    /// The tunnel being edited, or nil when adding.
    public var editing: String?
    public var values: [String]
    public var focus = 0
    public var error: String?

    public init(editing: TunnelConfig?) {
        self.editing = editing?.name
        values = editing.map { [$0.name, $0.url.description, $0.listen.description] } ?? ["", "http://", "127.0.0.1:0"]
    }

    public mutating func type(_ character: Character) {
        guard values[focus].count < 200, character.isASCII, !character.isNewline else { return }
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
        let url: ServerURL
        do { url = try ServerURL(parsing: values[1]) } catch { throw error.located("URL") }
        let listen: ListenAddress
        do { listen = try ListenAddress(parsing: values[2]) } catch { throw error.located("Listen") }
        var config = base ?? TunnelConfig(name: name, url: url)
        config.name = name
        config.url = url
        config.listen = listen
        return config
    }
}
