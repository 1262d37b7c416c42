/// A small deterministic generator (xorshift), so a failing random input can be replayed.
public struct SeededRandom {
    public var state: UInt64

    public init(state: UInt64) {
        self.state = state == 0 ? 1 : state
    }

    public mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }
}
