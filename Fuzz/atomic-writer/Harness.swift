// libFuzzer target: AtomicWriter path validation. The property: whatever path set the input spells and
// whatever symlinks it plants in the target first, nothing outside the target directory is created,
// changed or removed, and every accepted write reads back exactly.
import AtomicWriter
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Names a path element may be built from: ordinary, dot-ish, the writer's own names, separators.
let elements = ["a", "b", "..", ".", "", "..data", "..data_tmp", "..a.tmp", "x/y", "/", "c\u{0}", "...", "..2026_01_01_00_00_00.1", "outside", "é"]
/// Where planted symlinks point: the sibling outside directory by several spellings, a file in it, the parent.
let linkTargets = ["../outside", "../outside/file", "..", "../..", "OUTSIDE", "OUTSIDE/file", "..data/../../outside", "a", "../outside/missing"]
/// Names a planted symlink may take inside the target.
let linkNames = ["..data", "..data_tmp", "a", "b", "..a.tmp", "..b.tmp", "..2026_01_01_00_00_00.1", "x"]

/// Reads fuzz bytes as small choices.
struct Choices {
    var bytes: [UInt8]
    var index = 0
    mutating func next(_ bound: Int) -> Int {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return Int(bytes[index]) % bound
    }
    var exhausted: Bool { index >= bytes.count }
}

/// Every path under `root` with its kind, link target or contents, for before/after comparison.
func snapshot(_ root: String) -> [String: String] {
    var result: [String: String] = [:]
    func walk(_ path: String, _ relative: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFLNK:
            result[relative] = "link:" + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
        case S_IFDIR:
            result[relative] = "dir:\(st.st_mode & 0o7777)"
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { walk(path + "/" + entry, relative + "/" + entry) }
        default:
            let data = FileManager.default.contents(atPath: path) ?? Data()
            result[relative] = "file:\(st.st_mode & 0o7777):" + data.base64EncodedString()
        }
    }
    walk(root, "")
    return result
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var choices = Choices(bytes: Array(UnsafeBufferPointer(start: data, count: size)))
    var template = Array("/tmp/akvs-fuzz-aw.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
    let root = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let target = root + "/target", outside = root + "/outside"
    mkdir(target, 0o755); mkdir(outside, 0o755); mkdir(outside + "/sub", 0o755)
    _ = FileManager.default.createFile(atPath: outside + "/file", contents: Data("outside".utf8))
    _ = FileManager.default.createFile(atPath: root + "/sibling", contents: Data("sibling".utf8))

    let writer = AtomicWriter(target: URL(fileURLWithPath: target))
    for round in 0..<3 where !choices.exhausted {
        // Plant up to three symlinks (replacing what is there) before this round's write.
        for _ in 0..<choices.next(4) {
            let name = target + "/" + linkNames[choices.next(linkNames.count)]
            let destination = linkTargets[choices.next(linkTargets.count)].replacingOccurrences(of: "OUTSIDE", with: outside)
            unlink(name)
            symlink(destination, name)
        }
        var files: [AtomicWriter.File] = []
        for _ in 0..<choices.next(5) {
            var path = ""
            for part in 0..<(1 + choices.next(3)) { path += (part == 0 ? "" : "/") + elements[choices.next(elements.count)] }
            files.append(AtomicWriter.File(path: path, mode: Int32(choices.next(2) == 0 ? 0o644 : 0o600), contents: Array("r\(round) \(path)".utf8)))
        }
        let outsideBefore = snapshot(root).filter { !$0.key.hasPrefix("/target") }
        do {
            _ = try writer.write(files)
            // An accepted write reads back exactly through the visible names.
            for file in files {
                let read = FileManager.default.contents(atPath: target + "/" + file.path).map(Array.init)
                precondition(read == file.contents, "written file \(file.path) does not read back")
            }
        } catch {
            precondition(!error.description.isEmpty, "empty AtomicWriterError message")
        }
        let outsideAfter = snapshot(root).filter { !$0.key.hasPrefix("/target") }
        if outsideBefore != outsideAfter {
            let changed = Set(outsideBefore.keys).symmetricDifference(outsideAfter.keys).union(outsideBefore.keys.filter { outsideBefore[$0] != outsideAfter[$0] })
            fatalError("write of \(files.map(\.path)) changed paths outside the target: \(changed.sorted())")
        }
    }
    return 0
}
