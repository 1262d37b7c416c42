import Crypto

/// SHA-256 over many chunks, for payloads too big to hold at once.
public struct IncrementalHash {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }

    public func finalize() -> String { hasher.finalize().hex }
}
