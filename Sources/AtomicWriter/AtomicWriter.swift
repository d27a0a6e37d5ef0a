#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes a set of files into a directory the way kubelet's atomic writer does: the new content goes
/// into a fresh timestamped folder, then the `..data` symlink is swapped with one rename, so a reader
/// sees either the old set or the new set, never a mix; a failure leaves the old set in place.
public struct AtomicWriter: Sendable {
    /// One file to write, relative to the target directory.
    public struct File: Sendable, Equatable {
        public var path: String
        public var mode: Int32
        public var contents: [UInt8]
        public init(path: String, mode: Int32, contents: [UInt8]) { self.path = path; self.mode = mode; self.contents = contents }
    }

    /// What a write did.
    public enum Outcome: Sendable, Equatable {
        /// Content and modes were already identical; nothing was touched.
        case unchanged
        /// A new set was swapped in; the paths whose content or mode changed, were added or removed.
        case written(changed: [String])
    }

    public static let dataLink = "..data"
    public let target: URL

    public init(target: URL) { self.target = target }

    /// Replaces the directory's content with `files`.
    public func write(_ files: [File]) throws(AtomicWriterError) -> Outcome {
        try validate(files)
        var st = stat()
        guard lstat(target.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw .targetMissing(target.path)
        }
        let current = currentFiles()
        let changed = diff(current, files)
        if changed.isEmpty, current != nil { return .unchanged }

        let oldDirectory = dataDirectory()
        let newDirectory = try makeTimestampedDirectory()
        do {
            for file in files { try writeFile(file, into: newDirectory) }
            try swapDataLink(to: newDirectory)
        } catch {
            try? FileManager.default.removeItem(atPath: path(newDirectory))
            throw error
        }
        try linkTopLevel(files)
        removeStale(keeping: Set(files.map(topLevel)), previous: current.map { Set($0.keys.map(topLevel)) } ?? [])
        if let oldDirectory, oldDirectory != newDirectory { try? FileManager.default.removeItem(atPath: path(oldDirectory)) }
        removeOrphans(except: newDirectory)
        return .written(changed: changed)
    }

    /// The files visible now (through `..data`), or nil when nothing was written yet.
    public func currentFiles() -> [String: File]? {
        guard let directory = dataDirectory() else { return nil }
        let root = path(directory)
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return nil }
        var result: [String: File] = [:]
        while let relative = enumerator.nextObject() as? String {
            var st = stat()
            let full = root + "/" + relative
            guard lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, let data = FileManager.default.contents(atPath: full) else { continue }
            result[relative] = File(path: relative, mode: Int32(st.st_mode & 0o777), contents: Array(data))
        }
        return result
    }

    // MARK: Steps

    func validate(_ files: [File]) throws(AtomicWriterError) {
        var seen = Set<String>()
        for file in files {
            let components = file.path.split(separator: "/", omittingEmptySubsequences: false)
            if file.path.isEmpty || file.path.hasPrefix("/") || file.path.contains("\0")
                || components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) || file.path.hasPrefix("..") {
                throw .invalidPath(file.path.replacingOccurrences(of: "\0", with: "\\0"))
            }
            guard (0...0o777).contains(file.mode) else { throw .invalidMode(path: file.path, mode: file.mode) }
            guard seen.insert(file.path).inserted else { throw .duplicatePath(file.path) }
        }
        // A file and a folder of the same name cannot both exist.
        for file in files where files.contains(where: { $0.path.hasPrefix(file.path + "/") }) {
            throw .duplicatePath(file.path)
        }
    }

    func diff(_ current: [String: File]?, _ files: [File]) -> [String] {
        let old = current ?? [:]
        var changed = files.filter { old[$0.path] != $0 }.map(\.path)
        changed += old.keys.filter { key in !files.contains { $0.path == key } }
        return changed.sorted()
    }

    func makeTimestampedDirectory() throws(AtomicWriterError) -> String {
        let stamp = Self.timestamp(time(nil))
        for _ in 0..<16 {
            let name = "..\(stamp).\(UInt32.random(in: 0...UInt32.max))"
            if mkdir(path(name), 0o755) == 0 { return name }
            if errno != EEXIST { throw .io(operation: "mkdir", path: path(name), errno: errno) }
        }
        throw .io(operation: "mkdir", path: target.path, errno: EEXIST)
    }

    /// `yyyy_MM_dd_HH_mm_ss` in UTC, as kubelet's atomic writer names its directories (a DateFormatter per write
    /// cost more than the files' writes).
    static func timestamp(_ seconds: time_t) -> String {
        var now = seconds, parts = tm()
        gmtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)_\(two(parts.tm_mon + 1))_\(two(parts.tm_mday))_\(two(parts.tm_hour))_\(two(parts.tm_min))_\(two(parts.tm_sec))"
    }

    func writeFile(_ file: File, into directory: String) throws(AtomicWriterError) {
        let full = path(directory) + "/" + file.path
        if file.path.contains("/") {
            // Only nested paths need folders; the data directory itself exists.
            let parent = (full as NSString).deletingLastPathComponent
            do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
                throw .io(operation: "mkdir", path: parent, errno: EIO)
            }
        }
        let fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(file.mode))
        guard fd >= 0 else { throw .io(operation: "create", path: full, errno: errno) }
        defer { close(fd) }
        var offset = 0
        while offset < file.contents.count {
            let written = file.contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: full, errno: errno)
            }
            offset += written
        }
        // The umask must not change the mode the SPC asked for.
        guard fchmod(fd, mode_t(file.mode)) == 0, fsync(fd) == 0 else { throw .io(operation: "fsync", path: full, errno: errno) }
    }

    func swapDataLink(to directory: String) throws(AtomicWriterError) {
        let temporary = path("..data_tmp")
        unlink(temporary)
        guard symlink(directory, temporary) == 0 else { throw .io(operation: "symlink", path: temporary, errno: errno) }
        guard rename(temporary, path(Self.dataLink)) == 0 else { throw .io(operation: "rename", path: path(Self.dataLink), errno: errno) }
        let fd = open(target.path, O_RDONLY | O_DIRECTORY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// User-visible entries are symlinks into `..data`; a regular file in the way (left by an old provider) is replaced.
    func linkTopLevel(_ files: [File]) throws(AtomicWriterError) {
        for name in Set(files.map(topLevel)) {
            let visible = path(name)
            let wanted = Self.dataLink + "/" + name
            if readLink(name) == wanted { continue }
            var st = stat()
            if lstat(visible, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR { try? FileManager.default.removeItem(atPath: visible) } else { unlink(visible) }
            }
            let temporary = path("..\(name).tmp")
            unlink(temporary)
            guard symlink(wanted, temporary) == 0, rename(temporary, visible) == 0 else {
                throw .io(operation: "symlink", path: visible, errno: errno)
            }
        }
    }

    func removeStale(keeping: Set<String>, previous: Set<String>) {
        for name in previous.subtracting(keeping) where readLink(name) == Self.dataLink + "/" + name {
            unlink(path(name))
        }
    }

    /// Timestamped folders left by an interrupted write.
    func removeOrphans(except current: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: target.path) else { return }
        for entry in entries where entry.hasPrefix("..") && entry != current && entry != Self.dataLink {
            var st = stat()
            guard lstat(path(entry), &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR { try? FileManager.default.removeItem(atPath: path(entry)) } else if entry.hasSuffix("tmp") { unlink(path(entry)) }
        }
    }

    /// The folder `..data` points at, when it is one this writer made: a `..` name directly in the target that is a
    /// real directory. A link planted elsewhere (`../outside`, an absolute path) is never read through or removed.
    func dataDirectory() -> String? {
        guard let name = readLink(Self.dataLink), name.hasPrefix(".."), name != "..", !name.contains("/") else { return nil }
        var st = stat()
        guard lstat(path(name), &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return name
    }

    func topLevel(_ file: File) -> String { topLevel(file.path) }
    func topLevel(_ path: String) -> String { String(path.split(separator: "/").first ?? Substring(path)) }
    func path(_ name: String) -> String { target.path + "/" + name }

    func readLink(_ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path(name), &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Why a write did not happen; the previous content is still in place.
public enum AtomicWriterError: Error, CustomStringConvertible, Equatable {
    case targetMissing(String)
    case invalidPath(String)
    case invalidMode(path: String, mode: Int32)
    case duplicatePath(String)
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .targetMissing(let p): return "target directory \(p) does not exist or is not a directory; create it first"
        case .invalidPath(let p): return "file path '\(p)' must be relative, without '..', '.', empty elements or NUL"
        case .invalidMode(let p, let m): return "file \(p): mode \(String(m, radix: 8)) is not between 0000 and 0777"
        case .duplicatePath(let p): return "file path '\(p)' is given twice (or as both a file and a folder)"
        case .io(let op, let p, let e): return "\(op) \(p) failed: \(String(cString: strerror(e))); the previous content is unchanged"
        }
    }
}
