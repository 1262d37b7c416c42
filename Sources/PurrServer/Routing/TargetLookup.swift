import NIOCore
import PurrCore

/// One question to a route's `TargetSource`, asked on a task and answered on the connection's event
/// loop. `cancel()` cancels the task (a source that honours cancellation stops early) and completes the
/// answer with nil at once, so whatever waits on it is released even if the source never returns.
final class TargetLookup: Sendable {
    /// The source's answer, or nil once cancelled (the client left, or the deadline passed).
    let answer: EventLoopFuture<Result<HostPort, TargetRefusal>?>
    private let promise: EventLoopPromise<Result<HostPort, TargetRefusal>?>
    private let task: Task<Void, Never>

    init(_ source: any TargetSource, _ request: TargetRequest, on eventLoop: any EventLoop) {
        let promise = eventLoop.makePromise(of: Result<HostPort, TargetRefusal>?.self)
        self.promise = promise
        answer = promise.futureResult
        task = Task {
            // A promise completes once: an answer after `cancel()` is dropped.
            do throws(TargetRefusal) {
                promise.succeed(.success(try await source.target(for: request)))
            } catch {
                promise.succeed(.failure(error))
            }
        }
    }

    func cancel() {
        task.cancel()
        promise.succeed(nil)
    }
}
