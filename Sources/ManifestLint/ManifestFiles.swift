import Foundation

/// A path given to `akvs validate` that cannot be read.
public enum LintInputError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case unreadable(path: String, reason: String)
    /// A `--tenant-policy` values file that does not say what the policy is.
    case policy(String)

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): no such file or directory"
        case .unreadable(let path, let reason): "\(path): cannot be read (\(reason))"
        case .policy(let problem): problem
        }
    }
}

/// The manifest files named on the command line: files as given, directories walked for *.yaml, *.yml and *.json.
enum ManifestFiles {
    static let extensions: Set<String> = ["yaml", "yml", "json"]

    static func collect(_ paths: [String]) throws(LintInputError) -> [ManifestLinter.Source] {
        var sources: [ManifestLinter.Source] = []
        var seen = Set<String>()
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .notFound(path) }
            let files = isDirectory.boolValue ? walk(path) : [path]
            // A file named twice (or inside a directory also named) is read once.
            for file in files where seen.insert(URL(fileURLWithPath: file).standardizedFileURL.path).inserted {
                guard let data = FileManager.default.contents(atPath: file) else { throw .unreadable(path: file, reason: "permission denied or not a regular file") }
                sources.append(.init(name: file, text: String(decoding: data, as: UTF8.self)))
            }
        }
        return sources
    }

    /// Manifest files under `directory`, sorted, skipping hidden entries (e.g. `.git`).
    private static func walk(_ directory: String) -> [String] {
        let root = URL(fileURLWithPath: directory)
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]) else { return [] }
        var files: [String] = []
        for case let url as URL in enumerator where extensions.contains(url.pathExtension.lowercased()) {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let relative = url.path.hasPrefix(root.path + "/") ? String(url.path.dropFirst(root.path.count + 1)) : url.lastPathComponent
            files.append(directory.hasSuffix("/") ? directory + relative : directory + "/" + relative)
        }
        return files.sorted()
    }
}
