import Foundation

extension URLComponents {
    /// A port was written but `port` is nil: Foundation gives up on a number too large for an `Int`
    /// (`http://h:99999999999999999999/`) and would leave the scheme's default in its place.
    var hasUnreadablePort: Bool {
        port == nil && rangeOfPort.map { !$0.isEmpty } == true
    }
}
