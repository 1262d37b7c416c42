import Foundation

/// Files of this repository the tests read, found from this source file's place in it.
public enum RepositoryPaths {
    /// The repository's root directory.
    public static var root: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    /// The themes `purr-tui` ships (`themes/`).
    public static var themes: String { root.appendingPathComponent("themes").path }
}
