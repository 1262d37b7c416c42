#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Anything that stops a workload, with one line saying what.
struct BenchError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }

    /// The failed call and the current `errno`.
    static func errno(_ call: String) -> BenchError {
        BenchError("\(call): \(String(cString: strerror(Glibc.errno)))")
    }
}
