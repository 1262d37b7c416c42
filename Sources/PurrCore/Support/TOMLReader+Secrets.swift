import TOMLKit

extension TOMLReader {
    /// Keys whose values are secrets wherever they appear: route and admin tokens, an HS256 key.
    public static let secretKeys: Set<String> = ["token", "jwt_key"]

    /// Whether any table of this file, at any depth, sets one of `keys`.
    public func holdsSecrets(_ keys: Set<String> = secretKeys) -> Bool {
        Self.holds(keys, in: table)
    }

    private static func holds(_ keys: Set<String>, in table: TOMLTable) -> Bool {
        for (key, value) in table {
            if keys.contains(key) { return true }
            if let sub = value.table, holds(keys, in: sub) { return true }
            if let array = value.array, array.contains(where: { $0.table.map { holds(keys, in: $0) } ?? false }) { return true }
        }
        return false
    }
}

extension SecretFileCheck {
    /// Warns about a config file that holds secrets (`TOMLReader.secretKeys`) and that others can read.
    @discardableResult
    public static func warn(_ toml: TOMLReader, program: String) -> String? {
        toml.holdsSecrets() ? warn(toml.file, program: program) : nil
    }
}
