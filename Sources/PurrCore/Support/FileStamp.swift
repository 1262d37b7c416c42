#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What tells one version of a file from the next: device, inode, size and modification time, from
/// one `stat`. (Here rather than in PurrServer: in a module that also imports jwt-kit and
/// AsyncHTTPClient, `struct stat` is found through CoreFoundation or CDispatch, which
/// MemberImportVisibility then wants imported, differently in debug and release builds.)
public struct FileStamp: Equatable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var seconds: Int
    public var nanoseconds: Int

    /// nil when the file cannot be stat'ed (missing, no permission).
    public static func of(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
            let modified = info.st_mtimespec
        #else
            let modified = info.st_mtim
        #endif
        return FileStamp(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size), seconds: Int(modified.tv_sec),
            nanoseconds: Int(modified.tv_nsec))
    }
}
