import NIOCore
import PurrCore

/// One question to a route's `TargetSource`, asked on a task and answered on the connection's event
/// loop. The answer always arrives (a source's refusal is an answer too); `cancel()` tells a source
/// that honours cancellation to stop early when the client left or the deadline passed.
final class TargetLookup: Sendable {
    let answer: EventLoopFuture<Result<HostPort, TargetRefusal>>
    private let task: Task<Void, Never>

    init(_ source: any TargetSource, _ request: TargetRequest, on eventLoop: any EventLoop) {
        let promise = eventLoop.makePromise(of: Result<HostPort, TargetRefusal>.self)
        answer = promise.futureResult
        task = Task {
            do throws(TargetRefusal) {
                promise.succeed(.success(try await source.target(for: request)))
            } catch {
                promise.succeed(.failure(error))
            }
        }
    }

    func cancel() {
        task.cancel()
    }
}
