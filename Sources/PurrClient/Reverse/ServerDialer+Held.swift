import NIOCore

extension ServerDialer {
    /// A held request: like `dial`, but the connection is made ready first (TCP, proxy, TLS) and tracked in
    /// `held` while its request waits unanswered, so the exposer can close it when it stops. `connected`
    /// is called once the connection is ready and the request goes out.
    func dialHeld(
        on eventLoop: any EventLoop, tracking held: HeldChannels, connected: @escaping @Sendable () -> Void,
        completion: @escaping @Sendable (Result<any Channel, HandshakeFailure>) -> Void
    ) {
        prepare(on: eventLoop, lost: { _ in }).whenComplete { result in
            switch result {
            case .failure(let error):
                completion(.failure(error as? HandshakeFailure ?? HandshakeFailure(kind: .closed, "\(error)")))
            case .success(let pooled):
                let channel = pooled.channel
                guard held.add(channel) else {
                    channel.close(promise: nil)
                    completion(.failure(HandshakeFailure(kind: .local, "the reverse tunnel was stopped")))
                    return
                }
                connected()
                send(on: pooled) { outcome in
                    held.remove(channel)
                    completion(outcome)
                }
            }
        }
    }
}
