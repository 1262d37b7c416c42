import Foundation
import Synchronization

/// A byte count the relay adds to and anyone may read, without locks: one relaxed atomic add per read.
public final class ByteCounter: Sendable {
    private let value = Atomic<Int>(0)

    public init() {}

    @inline(__always)
    public func add(_ bytes: Int) {
        value.wrappingAdd(bytes, ordering: .relaxed)
    }

    public var total: Int { value.load(ordering: .relaxed) }
}
