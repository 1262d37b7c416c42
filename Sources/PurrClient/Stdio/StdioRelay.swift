import Foundation
import NIOCore
import NIOPosix
import PurrCore

/// `purr stdio`: one upgraded connection relayed to standard input and output (ssh ProxyCommand).
public enum StdioRelay {
    public struct Outcome: Sendable {
        public var bytesUp: Int
        public var bytesDown: Int
        public var reason: CloseReason
    }

    /// Dials, then relays until both directions are done. EOF on input half-closes the tunnel.
    public static func run(dialer: ServerDialer, group: any EventLoopGroup, input: CInt = 0, output: CInt = 1) async throws -> Outcome {
        let eventLoop = group.next()
        let server = try await dialer.dial(on: eventLoop)
        let pipe: any Channel
        let (outputFD, drained) = PollableDescriptor.output(output)
        do {
            pipe = try await NIOPipeBootstrap(group: eventLoop)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelOption(ChannelOptions.autoRead, value: false)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try RelayHandOver.holdEarlyBytes(on: channel) }
                }
                .takingOwnershipOfDescriptors(input: PollableDescriptor.input(input), output: outputFD)
                .get()
        } catch {
            try? await server.close()
            throw HandshakeFailure("cannot use standard input/output: \(error)")
        }
        let up = ByteCounter()
        let down = ByteCounter()
        let reason = try await eventLoop.flatSubmit {
            RelaySession(pipe, server, aCounter: up, bCounter: down).start()
        }.get()
        await withCheckedContinuation { continuation in
            Thread {
                drained()
                continuation.resume()
            }.start()
        }
        return Outcome(bytesUp: up.total, bytesDown: down.total, reason: reason)
    }
}
