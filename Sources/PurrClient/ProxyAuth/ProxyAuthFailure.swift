import Foundation

/// A proxy authentication that failed on this side (no ticket, no credentials, a token that did not
/// verify): one line for the user, never a token or a password.
public struct ProxyAuthFailure: Error, Equatable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

extension Array where Element == UInt8 {
    /// A GSSAPI token from a challenge's base64, or a failure naming the scheme.
    init(proxyToken text: String, scheme: String) throws(ProxyAuthFailure) {
        guard let data = Data(base64Encoded: text) else {
            throw ProxyAuthFailure("the proxy's \(scheme) token is not base64")
        }
        self = [UInt8](data)
    }

    /// `Scheme <base64>`: a `Proxy-Authorization` value.
    func authorization(scheme: String) -> String { "\(scheme) " + Data(self).base64EncodedString() }
}
