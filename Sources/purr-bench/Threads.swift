import Foundation
import Synchronization

/// Plain threads for the load generator: one per stream, so parallel streams really run in parallel
/// (Dispatch would cap them at the core count).
enum Threads {
    /// Starts a detached thread.
    static func detach(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Runs `body(0..<count)` on `count` threads and returns their results in order; rethrows the first error.
    static func run<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let done = DispatchGroup()
        for index in 0..<count {
            done.enter()
            detach("bench-\(index)") {
                let result = Result { try body(index) }
                results.withLock { $0[index] = result }
                done.leave()
            }
        }
        done.wait()
        let all = results.withLock { $0 }
        return try (0..<count).map { try all[$0]!.get() }
    }
}
