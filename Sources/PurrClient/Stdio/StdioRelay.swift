import Foundation
import NIOCore
import NIOPosix
import PurrCore

/// `purr stdio`: one upgraded connection relayed to standard input and output (ssh ProxyCommand).
public enum StdioRelay {
    public struct Outcome: Sendable {
        public var bytesUp: Int
        public var bytesDown: Int
    }

    /// Dials, then relays until both directions are done. EOF on input half-closes the tunnel.
    public static func run(dialer: ServerDialer, group: EventLoopGroup, input: CInt = 0, output: CInt = 1) async throws -> Outcome {
        let eventLoop = group.next()
        let (server, leftover) = try await dialer.dial(on: eventLoop)
        let pipe: Channel
        let (outputFD, drained) = PollableDescriptor.output(output)
        do {
            pipe = try await NIOPipeBootstrap(group: eventLoop)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelOption(ChannelOptions.autoRead, value: false)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ReadAheadHandler()) }
                }
                .takingOwnershipOfDescriptors(input: PollableDescriptor.input(input), output: outputFD)
                .get()
        } catch {
            try? await server.close()
            throw HandshakeFailure("cannot use standard input/output: \(error)")
        }
        let up = ByteCounter()
        let down = ByteCounter()
        try await eventLoop.submit {
            try Relay.join(pipe, server, aCounter: up, bCounter: down, pendingForA: leftover)
        }.get()
        try? await pipe.closeFuture.get()
        try? await server.closeFuture.get()
        await withCheckedContinuation { continuation in
            Thread {
                drained()
                continuation.resume()
            }.start()
        }
        return Outcome(bytesUp: up.total, bytesDown: down.total)
    }
}
