/// A reverse tunnel's name (`[[reverse]] name`, `Purr-Reverse`, `purr expose --name`): shown in logs and
/// sent as a header, so a short token both ends check the same way.
public enum ReverseName {
    /// Letters, digits, `-`, `_`, `.`; 1 to 64 bytes.
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { allowed.contains($0) }
    }

    /// What `isValid` wants, for error lines.
    public static let rule = "letters, digits, - _ ., at most 64"

    private static let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8)
}
