import AzureProvider
import StructuredJSON

/// The files a SecretProviderClass puts in a volume, computed from its `objects` as the provider lays them out:
/// `objectAlias` or `objectName`, `name/0`, `name/1`… for `objectVersionHistory` > 1, `filePermission` modes.
public struct FileLayout: Sendable, Equatable {
    public struct File: Sendable, Equatable, Codable {
        /// Path inside the volume (what the pod reads).
        public var path: String
        /// The provider's file, which a SecretSync names as `sourcePath`: the same path.
        public var sourcePath: String
        /// A valid Secret key carrying the file (no `/`).
        public var key: String
        /// The object's filePermission, octal text; nil for the driver's default (0644).
        public var mode: String?
    }

    public var files: [File]

    /// The layout, or the provider's own error for invalid `objects`.
    public static func of(_ spc: JSONValue) throws(ProviderError) -> FileLayout {
        let objects = try KeyVaultObject.parseList(spc.text("spec", "parameters", "objects") ?? "")
        var files: [File] = []
        var keys = Set<String>()
        for object in objects {
            let paths = object.objectVersionHistory > 1 ? (0..<object.objectVersionHistory).map { "\(object.fileName)/\($0)" } : [object.fileName]
            for path in paths {
                var key = secretKey(path)
                var suffix = 2
                while keys.contains(key) { key = "\(secretKey(path))-\(suffix)"; suffix += 1 }
                keys.insert(key)
                files.append(File(path: path, sourcePath: path, key: key, mode: object.filePermission.map { "0" + String($0, radix: 8) }))
            }
        }
        return FileLayout(files: files)
    }

    /// Secret keys allow letters, digits, `-`, `_` and `.`: a `/` becomes `.`, anything else `-`.
    static func secretKey(_ path: String) -> String {
        var key = String(path.map { c -> Character in
            if c == "/" { return "." }
            return c.isASCII && (c.isLetter || c.isNumber || "-_.".contains(c)) ? c : "-"
        })
        if key == "." || key == ".." || key.isEmpty { key = "file" + key }
        return String(key.prefix(253))
    }
}
