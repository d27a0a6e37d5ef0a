import Foundation
import ManifestLint

/// Lints texts as files named `name` and returns the printed lines (without the summary).
func lint(_ text: String, name: String = "m.yaml", forSync: Bool = false) -> [String] {
    lint([(name, text)], forSync: forSync)
}

func lint(_ files: [(String, String)], forSync: Bool = false) -> [String] {
    ManifestLinter(forSync: forSync).lint(files.map { ManifestLinter.Source(name: $0.0, text: $0.1) }).diagnostics.map(\.text)
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
