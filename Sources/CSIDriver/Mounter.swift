#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// tmpfs mounts at CSI target paths, through mount(2) and umount2(2) (the driver runs as root).
public struct Mounter: Sendable {
    /// False: only directories are made (used where mounting is impossible; never in a cluster).
    public var mountTmpfs: Bool

    public init(mountTmpfs: Bool = true) { self.mountTmpfs = mountTmpfs }

    /// Whether `path` is the root of a mount: its device differs from its parent's, or it is listed in mountinfo.
    public func isMountPoint(_ path: String) -> Bool {
        var st = stat(), parent = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return false }
        let up = (path as NSString).deletingLastPathComponent
        guard stat(up, &parent) == 0 else { return false }
        if st.st_dev != parent.st_dev { return true }
        // A bind mount of the same filesystem keeps the device: statx says whether the path is a mount root (Linux 5.8+);
        // reading mountinfo instead cost 9 % of the driver's CPU per first publish on a node with hundreds of mounts.
        if let root = Self.isMountRoot(path) { return root }
        guard let info = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        let escaped = Self.mountinfoEscape(path)
        return info.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == Substring(escaped)
        }
    }

    /// Whether `path` is the root of a mount, by statx(2)'s STATX_ATTR_MOUNT_ROOT; nil where the kernel does not say.
    /// Looked up by name as statfs below; the offsets are those of `struct statx`, the same on every Linux ABI.
    static func isMountRoot(_ path: String) -> Bool? {
        typealias StatX = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UInt32, UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "statx") else { return nil }
        let statx = unsafeBitCast(symbol, to: StatX.self)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        let atFDCWD: Int32 = -100, atSymlinkNoFollow: Int32 = 0x100, mountRoot: UInt64 = 0x2000
        guard statx(atFDCWD, path, atSymlinkNoFollow, 0, buffer) == 0 else { return nil }
        let attributes = buffer.load(fromByteOffset: 8, as: UInt64.self), supported = buffer.load(fromByteOffset: 56, as: UInt64.self)
        guard supported & mountRoot != 0 else { return nil }
        return attributes & mountRoot != 0
    }

    /// Whether `path` lives on a tmpfs, by statfs(2)'s f_type (TMPFS_MAGIC). statfs is not in Swift's Glibc module, so
    /// it is looked up by name; f_type is the first field of `struct statfs` on every Linux ABI glibc supports. Not
    /// /proc/self/mountinfo: a read racing mounts elsewhere on the node can skip lines.
    public static func isTmpfs(_ path: String) -> Bool {
        typealias StatFS = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "statfs") else { return false }
        let statfs = unsafeBitCast(symbol, to: StatFS.self)
        // struct statfs is 120 bytes on x86_64 and aarch64; 512 leaves room for any layout.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 512)
        guard statfs(path, buffer) == 0 else { return false }
        return buffer.load(as: Int.self) == 0x0102_1994  // TMPFS_MAGIC
    }

    /// Creates `path` (0750, as upstream) and mounts an empty tmpfs on it.
    public func mount(at path: String) throws(MountError) {
        // kubelet has made the parent: one mkdir is the common case; FileManager only for missing parents.
        if mkdir(path, 0o750) != 0, errno != EEXIST {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                throw .create(path: path, reason: "\(error.localizedDescription)")
            }
        }
        guard mountTmpfs else { return }
        // nosuid,nodev,noexec: the volume carries data, never programs or devices.
        let flags = UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC)
        guard Glibc.mount("tmpfs", path, "tmpfs", flags, "mode=0755") == 0 else {
            let code = errno
            throw .mount(path: path, reason: String(cString: strerror(code)) + (code == EPERM ? " (the driver must run as root / privileged)" : ""))
        }
    }

    /// Unmounts `path` if it is a mount point; a missing path is fine.
    public func unmount(_ path: String) throws(MountError) {
        guard isMountPoint(path) else { return }
        if umount2(path, 0) != 0 {
            let code = errno
            // Busy (a reader holds a file): detach, so the pod can go; the kernel frees it when the last file closes.
            guard code == EBUSY, umount2(path, Int32(MNT_DETACH)) == 0 else {
                throw .unmount(path: path, reason: String(cString: strerror(code)))
            }
        }
    }

    static func mountinfoEscape(_ path: String) -> String {
        var out = ""
        for ch in path.unicodeScalars {
            switch ch {
            case " ": out += "\\040"
            case "\t": out += "\\011"
            case "\n": out += "\\012"
            case "\\": out += "\\134"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

/// A mount or unmount that failed.
public enum MountError: Error, CustomStringConvertible, Sendable {
    case create(path: String, reason: String)
    case mount(path: String, reason: String)
    case unmount(path: String, reason: String)

    public var description: String {
        switch self {
        case .create(let p, let r): return "cannot create target directory \(p): \(r)"
        case .mount(let p, let r): return "cannot mount tmpfs at \(p): \(r)"
        case .unmount(let p, let r): return "cannot unmount \(p): \(r)"
        }
    }
}
