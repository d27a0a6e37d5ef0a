import AtomicWriter
import Foundation
import Testing

@Suite struct AtomicWriterTests {
    func makeTarget() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-aw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func file(_ path: String, _ text: String, mode: Int32 = 0o644) -> AtomicWriter.File {
        AtomicWriter.File(path: path, mode: mode, contents: Array(text.utf8))
    }

    func read(_ target: URL, _ path: String) -> String? {
        FileManager.default.contents(atPath: target.appendingPathComponent(path).path).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func writesThroughDataLinkWithExactModes() throws {
        let target = try makeTarget()
        defer { try? FileManager.default.removeItem(at: target) }
        let writer = AtomicWriter(target: target)
        let outcome = try writer.write([file("a", "one", mode: 0o600), file("hist/0", "h0"), file("hist/1", "h1")])
        #expect(outcome == .written(changed: ["a", "hist/0", "hist/1"]))
        #expect(read(target, "a") == "one" && read(target, "hist/1") == "h1")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent("a").path) == "..data/a")
        let data = try FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent("..data").path)
        #expect(data.hasPrefix(".."))
        let mode = try FileManager.default.attributesOfItem(atPath: target.appendingPathComponent(data + "/a").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func identicalContentIsNotRewritten() throws {
        let target = try makeTarget()
        defer { try? FileManager.default.removeItem(at: target) }
        let writer = AtomicWriter(target: target)
        _ = try writer.write([file("a", "one"), file("b", "two")])
        let before = try FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent("..data").path)
        #expect(try writer.write([file("b", "two"), file("a", "one")]) == .unchanged)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent("..data").path) == before)
        #expect(try writer.write([file("a", "one", mode: 0o600), file("b", "two")]) == .written(changed: ["a"]))
    }

    @Test func swapRemovesOldFilesAndFolders() throws {
        let target = try makeTarget()
        defer { try? FileManager.default.removeItem(at: target) }
        let writer = AtomicWriter(target: target)
        _ = try writer.write([file("a", "one"), file("gone", "x")])
        let outcome = try writer.write([file("a", "two"), file("new", "y")])
        #expect(outcome == .written(changed: ["a", "gone", "new"]))
        #expect(read(target, "gone") == nil && read(target, "a") == "two")
        let entries = try FileManager.default.contentsOfDirectory(atPath: target.path).sorted()
        #expect(entries.count == 4)  // ..data, one timestamped folder, a, new
        #expect(entries.filter { $0.hasPrefix("..") && $0 != "..data" }.count == 1)
    }

    @Test func badPathsAreRefusedAndNothingChanges() throws {
        let target = try makeTarget()
        defer { try? FileManager.default.removeItem(at: target) }
        let writer = AtomicWriter(target: target)
        _ = try writer.write([file("a", "keep")])
        for bad in ["../escape", "/etc/passwd", "x/../../y", "", "a\0b", "..data", "./a", "a//b", "dup"] {
            let files = bad == "dup" ? [file("dup", "1"), file("dup", "2")] : [file(bad, "evil")]
            #expect(throws: AtomicWriterError.self) { try writer.write(files) }
        }
        #expect(throws: AtomicWriterError.self) { try writer.write([file("f", "1"), file("f/x", "2")]) }
        #expect(read(target, "a") == "keep")
        #expect(!FileManager.default.fileExists(atPath: target.deletingLastPathComponent().appendingPathComponent("escape").path))
    }

    @Test func replacesLegacyRegularFileAndCleansOrphans() throws {
        let target = try makeTarget()
        defer { try? FileManager.default.removeItem(at: target) }
        try "legacy".write(to: target.appendingPathComponent("a"), atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(at: target.appendingPathComponent("..2020_01_01_00_00_00.1"), withIntermediateDirectories: true)
        _ = try AtomicWriter(target: target).write([file("a", "new")])
        #expect(read(target, "a") == "new")
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent("..2020_01_01_00_00_00.1").path))
    }

    @Test func badPathErrorsNameThePathAndTheRule() throws {
        let target = try makeTarget()
        defer { try? FileManager.default.removeItem(at: target) }
        let writer = AtomicWriter(target: target)
        #expect(throws: AtomicWriterError.invalidPath("../escape")) { try writer.write([file("../escape", "x")]) }
        #expect(AtomicWriterError.invalidPath("../escape").description == "file path '../escape' must be relative, without '..', '.', empty elements or NUL")
        #expect(throws: AtomicWriterError.invalidPath("a\\0b")) { try writer.write([file("a\0b", "x")]) }
        #expect(throws: AtomicWriterError.duplicatePath("f")) { try writer.write([file("f", "1"), file("f/x", "2")]) }
        #expect(AtomicWriterError.duplicatePath("f").description == "file path 'f' is given twice (or as both a file and a folder)")
        #expect(throws: AtomicWriterError.invalidMode(path: "m", mode: 0o1777)) { try writer.write([file("m", "x", mode: 0o1777)]) }
        #expect(AtomicWriterError.invalidMode(path: "m", mode: 0o1777).description == "file m: mode 1777 is not between 0000 and 0777")
    }

    /// Found by Fuzz/atomic-writer: a `..data` link planted to a folder outside the target made the next write
    /// delete that folder (as "the old data directory") and compare against its files.
    @Test(arguments: ["../outside", "OUTSIDE", "..data/../../outside"])
    func aPlantedDataLinkIsNeitherFollowedNorRemoved(link: String) throws {
        let root = try makeTarget()
        defer { try? FileManager.default.removeItem(at: root) }
        let target = root.appendingPathComponent("target"), outside = root.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try "outside".write(to: outside.appendingPathComponent("a"), atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: target.appendingPathComponent("..data").path,
                                                   withDestinationPath: link.replacingOccurrences(of: "OUTSIDE", with: outside.path))
        let writer = AtomicWriter(target: target)
        #expect(writer.currentFiles() == nil)
        // Same name and content as the planted folder's file: still written, not "unchanged".
        #expect(try writer.write([file("a", "outside")]) == .written(changed: ["a"]))
        #expect(try writer.write([]) == .written(changed: ["a"]))
        #expect(read(root, "outside/a") == "outside")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["a"])
    }

    @Test func missingTargetIsAnError() {
        let writer = AtomicWriter(target: URL(fileURLWithPath: "/nonexistent/akvs"))
        #expect(throws: AtomicWriterError.targetMissing("/nonexistent/akvs")) { try writer.write([file("a", "x")]) }
    }

    @Test func readersNeverSeePartialContent() async throws {
        let target = try makeTarget()
        defer { try? FileManager.default.removeItem(at: target) }
        let writer = AtomicWriter(target: target)
        let big = String(repeating: "A", count: 64 * 1024), other = String(repeating: "B", count: 64 * 1024)
        _ = try writer.write([file("payload", big)])
        let path = target.appendingPathComponent("payload").path
        let reader = Task.detached { () -> (Int, Int) in
            var reads = 0, bad = 0
            let deadline = ContinuousClock.now + .milliseconds(800)
            while ContinuousClock.now < deadline {
                // A read racing the swap may find the old folder gone (retry), never a mix.
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                reads += 1
                if !(data.count == 64 * 1024 && (data.allSatisfy { $0 == 65 } || data.allSatisfy { $0 == 66 })) { bad += 1 }
            }
            return (reads, bad)
        }
        for i in 0..<200 { _ = try writer.write([file("payload", i % 2 == 0 ? other : big)]) }
        let (reads, bad) = await reader.value
        #expect(reads > 0 && bad == 0)
    }
}
