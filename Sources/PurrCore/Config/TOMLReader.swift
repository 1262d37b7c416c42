import Foundation
import TOMLKit

/// Strict, typed access to one TOML table: unknown keys and wrong types are errors that name the file and key.
public struct TOMLReader {
    public let file: String
    public let path: String
    let table: TOMLTable

    /// Reads and parses a file; a syntax error names its line and column.
    public static func load(file: String) throws(ConfigError) -> TOMLReader {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw ConfigError("\(file): not UTF-8 text")
            }
            text = decoded
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("\(file): cannot read: \(Self.describe(error))")
        }
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> TOMLReader {
        do {
            return TOMLReader(file: file, path: "", table: try TOMLTable(string: text))
        } catch let error as TOMLParseError {
            throw ConfigError("\(file):\(error.source.begin.line):\(error.source.begin.column): \(error.description)")
        } catch {
            throw ConfigError("\(file): \(error)")
        }
    }

    public static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError { return "no such file" }
        return ns.localizedDescription
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func fail(_ key: String, _ message: String) -> ConfigError {
        ConfigError("\(file): \(keyPath(key)): \(message)")
    }

    /// Refuses keys outside `allowed`, naming the first one found.
    public func checkKeys(_ allowed: Set<String>) throws(ConfigError) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            let expected = allowed.sorted().joined(separator: ", ")
            throw ConfigError("\(file): unknown key '\(keyPath(key))' (expected one of: \(expected))")
        }
    }

    /// Whether the table has this key (of any type).
    public func has(_ key: String) -> Bool { table[key] != nil }

    public func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else { throw fail(key, "expected a string, got \(value.type)") }
        return string
    }

    public func requiredString(_ key: String) throws(ConfigError) -> String {
        guard let value = try string(key) else { throw fail(key, "missing (required)") }
        return value
    }

    public func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else { throw fail(key, "expected true or false, got \(value.type)") }
        return bool
    }

    /// A number of seconds (integer or decimal) within a range.
    public func seconds(_ key: String, range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let value = table[key] else { return nil }
        let number: Double
        if let int = value.int {
            number = Double(int)
        } else if let double = value.double {
            number = double
        } else {
            throw fail(key, "expected a number of seconds, got \(value.type)")
        }
        guard range.contains(number) else {
            throw fail(key, "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    public func int(_ key: String, range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let int = value.int else { throw fail(key, "expected an integer, got \(value.type)") }
        guard range.contains(int) else { throw fail(key, "\(int) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return int
    }

    /// A table of string values (e.g. extra headers).
    public func stringTable(_ key: String) throws(ConfigError) -> [(String, String)]? {
        guard let value = table[key] else { return nil }
        guard let sub = value.table else { throw fail(key, "expected a table of strings, got \(value.type)") }
        var result: [(String, String)] = []
        for name in sub.keys.sorted() {
            guard let str = sub[name]?.string else { throw fail("\(key).\(name)", "expected a string") }
            result.append((name, str))
        }
        return result
    }

    /// An array of strings; missing is empty.
    public func stringArray(_ key: String) throws(ConfigError) -> [String] {
        guard let value = table[key] else { return [] }
        guard let array = value.array else { throw fail(key, "expected an array of strings, got \(value.type)") }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else { throw fail("\(key)[\(index)]", "expected a string, got \(element.type)") }
            result.append(string)
        }
        return result
    }

    public func table(_ key: String) throws(ConfigError) -> TOMLReader? {
        guard let value = table[key] else { return nil }
        guard let sub = value.table else { throw fail(key, "expected a table, got \(value.type)") }
        return TOMLReader(file: file, path: keyPath(key), table: sub)
    }

    /// An array of tables (`[[key]]`), each with its index in the key path.
    public func tables(_ key: String) throws(ConfigError) -> [TOMLReader] {
        guard let value = table[key] else { return [] }
        guard let array = value.array else { throw fail(key, "expected an array of tables ([[\(key)]]), got \(value.type)") }
        var result: [TOMLReader] = []
        for (index, element) in array.enumerated() {
            guard let sub = element.table else {
                throw fail("\(key)[\(index)]", "expected a table, got \(element.type)")
            }
            result.append(TOMLReader(file: file, path: "\(keyPath(key))[\(index)]", table: sub))
        }
        return result
    }

    /// Wraps a value error so it names this table's key.
    public func wrap<T>(_ key: String, _ body: () throws(ConfigError) -> T) throws(ConfigError) -> T {
        do {
            return try body()
        } catch {
            throw fail(key, error.message)
        }
    }
}
