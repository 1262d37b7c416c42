import Foundation

/// The original Purr 0.1.2 wire bytes (copied from shared/fixtures: one copy, in this target's resources).
public enum WireFixtures {
    /// The original Go client's request with its Host line rewritten for `port`.
    public static func originalClientRequest(port: Int) throws -> [UInt8] {
        let data = try Data(contentsOf: url("original-client-request.bin"))
        let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "127.0.0.1:58853", with: "127.0.0.1:\(port)")
        return Array(text.utf8)
    }

    public static func originalServer101() throws -> [UInt8] {
        Array(try Data(contentsOf: url("original-server-101.bin")))
    }

    static func url(_ name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }
}
