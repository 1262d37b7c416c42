import PurrCore

/// The embedding application's own choice (the analogue of the original Rack server's block): an async
/// closure that gets the parsed request and returns a target or throws a refusal. Any other error it
/// throws becomes 502 `the application could not choose a target` (counted as `refused`): its text
/// stays inside the application.
public struct ClosureTargetSource: TargetSource {
    /// Untyped `throws`, so a plain closure literal fits (Swift does not infer typed throws for closures).
    public typealias Choose = @Sendable (TargetRequest) async throws -> HostPort

    let choose: Choose

    public init(_ choose: @escaping Choose) {
        self.choose = choose
    }

    public func target(for request: TargetRequest) async throws(TargetRefusal) -> HostPort {
        do {
            return try await choose(request)
        } catch let refusal as TargetRefusal {
            throw refusal
        } catch {
            throw .refused("the application could not choose a target", status: 502)
        }
    }
}
