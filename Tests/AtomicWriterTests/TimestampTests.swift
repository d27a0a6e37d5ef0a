import Foundation
import Testing
@testable import AtomicWriter

/// The data directories are named by the UTC time of the write, as kubelet's atomic writer names them.
@Suite struct TimestampTests {
    @Test func theStampIsUTCWithTwoDigitFields() {
        #expect(AtomicWriter.timestamp(0) == "1970_01_01_00_00_00")
        #expect(AtomicWriter.timestamp(1_709_164_805) == "2024_02_29_00_00_05")
        #expect(AtomicWriter.timestamp(1_796_566_332) == "2026_12_06_14_12_12")
    }

    @Test func nestedAndFlatFilesAreWrittenIntoTheNewDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-aw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = AtomicWriter(target: dir)
        _ = try writer.write([AtomicWriter.File(path: "flat", mode: 0o600, contents: Array("a".utf8)),
                              AtomicWriter.File(path: "deep/er/file", mode: 0o644, contents: Array("b".utf8))])
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("..2") }
        #expect(names.count == 1 && names[0].range(of: #"^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$"#, options: .regularExpression) != nil)
        #expect(try String(contentsOf: dir.appendingPathComponent("deep/er/file"), encoding: .utf8) == "b")
        #expect(writer.currentFiles()?.keys.sorted() == ["deep/er/file", "flat"])
    }
}
