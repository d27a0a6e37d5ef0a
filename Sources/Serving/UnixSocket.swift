#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The unix sockets the roles serve gRPC on: endpoint parsing, stale-socket removal, permissions.
public enum UnixSocket {
    /// The path named by an endpoint flag: `unix:///abs/path` or `unix:/abs/path`. With `hostIsFolder`, also
    /// `unix://tmp/x.sock` read as `/tmp/x.sock`, as Go's URL parsing does for the upstream driver's default.
    public static func path(endpoint: String, flag: String = "--endpoint", example: String, hostIsFolder: Bool = false) throws(ServingError) -> String {
        guard endpoint.hasPrefix("unix:") else { throw .endpoint(flag: flag, value: endpoint, example: example) }
        var path = String(endpoint.dropFirst(5))
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        if !path.hasPrefix("/") {
            guard hostIsFolder else { throw .endpoint(flag: flag, value: endpoint, example: example) }
            path = "/" + path
        }
        guard path.count > 1, !path.hasSuffix("/") else { throw .endpoint(flag: flag, value: endpoint, example: example) }
        return path
    }

    /// Creates the socket's folder and removes a stale socket left by an earlier run; anything else at the path is left alone.
    public static func prepare(_ path: String) throws(ServingError) {
        let directory = (path as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .socket(path: path, reason: "cannot create \(directory): \(error.localizedDescription)")
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw .socket(path: path, reason: "exists and is not a socket; remove it or choose another endpoint")
            }
            unlink(path)
        }
    }

    /// Only the owner (root on a node) may connect. Set explicitly: umask is process-wide and may be loosened concurrently.
    public static func restrict(_ path: String) { chmod(path, 0o600) }

    /// Removes the socket at shutdown (only if it still is one).
    public static func remove(_ path: String) {
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
    }
}

/// Which socket file a path names now. The inode alone is not enough: a socket recreated on the same path often
/// gets the freed inode number back, so the change time (set when the socket is bound) is part of it.
public struct SocketIdentity: Equatable, Sendable {
    var inode: UInt64 = 0
    var changedSeconds = 0
    var changedNanoseconds = 0

    /// The identity of whatever `path` names now (all zero when nothing is there).
    public init(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        inode = UInt64(st.st_ino)
        changedSeconds = Int(st.st_ctim.tv_sec)
        changedNanoseconds = Int(st.st_ctim.tv_nsec)
    }
}
