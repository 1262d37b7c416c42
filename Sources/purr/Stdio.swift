import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PurrClient
import PurrCore

/// `purr stdio URL`: for `ssh -o ProxyCommand='purr stdio http://host:8080/ssh' user@host`.
struct Stdio: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Relay one upgraded connection to standard input and output (ssh ProxyCommand).",
        discussion: """
            EOF on standard input half-closes the tunnel; the command exits once both directions are done. \
            Nothing but tunnel bytes is written to standard output; logs (default level warning) go to \
            standard error. Example: ssh -o ProxyCommand='purr stdio https://host/ssh --token-file ~/.purr-token' user@host
            """
    )

    @OptionGroup var tunnel: TunnelOptions
    @OptionGroup var log: LogOptions

    func run() async throws {
        let config: TunnelConfig
        let proxy: ProxySettings?
        var tls: NIOSSLContext?
        do {
            config = try tunnel.tunnelConfig(name: "stdio", listen: ListenAddress(host: "127.0.0.1", port: 0))
            proxy = try config.effectiveProxy(environment: ProcessInfo.processInfo.environment)
            if config.url.scheme.usesTLS { tls = try ClientTLS.makeContext(caFile: config.caFile, insecure: config.insecure) }
            try log.bootstrap(default: .warning)
        } catch {
            CommandLineSupport.usageError("purr", error.message)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let logger = Logger(label: "purr")
        if config.insecure, tls != nil {
            logger.warning("TLS certificate verification is OFF (--insecure): anyone on the path can read and change this tunnel")
        }
        do {
            let outcome = try await StdioRelay.run(dialer: ServerDialer(tunnel: config, proxy: proxy, tls: tls), group: group)
            logger.info("close", metadata: ["up": "\(outcome.bytesUp)", "down": "\(outcome.bytesDown)", "reason": "\(outcome.reason)"])
        } catch {
            CommandLineSupport.runtimeError("purr", "\(config.url.redacted): \(error)")
        }
        try? await group.shutdownGracefully()
        ProcessExit.success.exit()
    }
}
