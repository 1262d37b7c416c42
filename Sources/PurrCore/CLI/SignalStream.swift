import Dispatch
import Foundation

/// Every delivery of one signal (SIGHUP: reload) as an async sequence; the default action (which
/// would end the process) is off from `init` on.
/// Unchecked: `source` is written once in `init` and only kept alive afterwards.
public final class SignalStream: @unchecked Sendable {
    private let source: any DispatchSourceSignal
    public let signals: AsyncStream<Int32>

    public init(_ number: Int32) {
        signal(number, SIG_IGN)
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        signals = stream
        source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { continuation.yield(number) }
        source.resume()
    }

    deinit { source.cancel() }
}
