import NIOHTTP1

/// Header lookups the way the Purr checks read them: first value by case-insensitive name, all values
/// joined as HTTP defines repeated fields, and tokens of a comma-separated list.
extension HTTPHeaders {
    public func value(of name: String) -> String? {
        first(name: name)
    }

    public func combinedValue(of name: String) -> String? {
        let values = self[name]
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    public func listContains(_ name: String, token: String) -> Bool {
        for (field, value) in self where HeaderTokens.equalIgnoringCase(field.utf8, name.utf8) {
            if HeaderTokens.contains(value, token: token) { return true }
        }
        return false
    }
}

extension HTTPRequestHead {
    public func value(of name: String) -> String? { headers.value(of: name) }
    public func combinedValue(of name: String) -> String? { headers.combinedValue(of: name) }
    public func listContains(_ name: String, token: String) -> Bool { headers.listContains(name, token: token) }
}

extension HTTPResponseHead {
    public func value(of name: String) -> String? { headers.value(of: name) }
    public func listContains(_ name: String, token: String) -> Bool { headers.listContains(name, token: token) }
}
