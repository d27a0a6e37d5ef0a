import Foundation
import KeyVault
import ObjectFormats
import Yams

/// One entry of the SecretProviderClass `objects` parameter.
public struct KeyVaultObject: Sendable, Equatable {
    public enum ObjectType: String, Sendable, CaseIterable { case secret, key, cert }

    public var objectName: String
    public var objectType: ObjectType
    /// Empty means latest.
    public var objectVersion: String
    public var objectAlias: String
    public var objectVersionHistory: Int
    public var objectFormat: ObjectFormat
    public var objectEncoding: ObjectEncoding
    /// Explicit file mode, or nil for the request's default.
    public var filePermission: Int32?
    /// akvs: a missing (404) or disabled object gives no file instead of failing the mount (`optional: true`;
    /// upstream's parser ignores the key, so the same SecretProviderClass still works there).
    public var optional = false

    /// The file (or, with version history, the folder) this object is written to.
    public var fileName: String { objectAlias.isEmpty ? objectName : objectAlias }

    /// Every file path this object produces: the file name, or `name/0` … `name/N-1` with version history.
    public var filePaths: [String] {
        objectVersionHistory > 1 ? (0..<objectVersionHistory).map(historyPath) : [fileName]
    }

    /// The file of version `index` (0 is the newest) in a version-history folder.
    public func historyPath(_ index: Int) -> String { "\(fileName)/\(index)" }

    /// Object kind on the Key Vault side.
    public var kind: ObjectKind {
        switch objectType { case .secret: .secret; case .key: .key; case .cert: .certificate }
    }

    static let knownFields = ["objectName", "objectType", "objectVersion", "objectAlias", "objectVersionHistory",
                              "objectFormat", "objectEncoding", "filePermission", "optional"]
    static let maxVersionHistory = 100

    /// Parses the `objects` parameter: YAML `array:` whose items are YAML documents (strings) or maps.
    public static func parseList(_ text: String) throws(ProviderError) -> [KeyVaultObject] {
        var objects: [KeyVaultObject] = []
        for (index, item) in try listItems(text).enumerated() {
            objects.append(try parse(item, index: index))
        }
        try checkUniqueFiles(objects)
        return objects
    }

    /// The entries of the `objects` parameter's `array` list, not yet parsed.
    package static func listItems(_ text: String) throws(ProviderError) -> [Node] {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw .parameter(name: "objects", reason: "is not valid YAML (\(error)); it must look like 'array:' followed by '- |' items")
        }
        guard let root, case .mapping(let mapping) = root, let array = mapping["array"] else {
            throw .parameter(name: "objects", reason: "must be a YAML map with an 'array' list, e.g. \"array:\\n  - |\\n    objectName: db-password\\n    objectType: secret\"")
        }
        guard case .sequence(let items) = array else {
            if case .scalar(let s) = array, s.string.isEmpty { return [] }
            throw .parameter(name: "objects", reason: "'array' must be a list of objects")
        }
        return Array(items)
    }

    /// One entry of the `array` list (a YAML document in a string, or a map).
    package static func parse(_ node: Node, index: Int) throws(ProviderError) -> KeyVaultObject {
        var fields: [String: String] = [:]
        let map: Node.Mapping
        switch node {
        case .scalar(let scalar):
            let inner: Node?
            do { inner = try Yams.compose(yaml: scalar.string) } catch {
                throw .object(index: index, name: "", field: "(item)", reason: "unmarshal failed for keyVaultObjects at index \(index): \(error)")
            }
            guard let inner, case .mapping(let m) = inner else {
                throw .object(index: index, name: "", field: "(item)", reason: "unmarshal failed for keyVaultObjects at index \(index): expected 'objectName: …' lines")
            }
            map = m
        case .mapping(let m):
            map = m
        default:
            throw .object(index: index, name: "", field: "(item)", reason: "unmarshal failed for keyVaultObjects at index \(index): expected a YAML document")
        }
        for (key, value) in map {
            guard case .scalar(let k) = key else { continue }
            guard case .scalar(let v) = value else {
                throw .object(index: index, name: "", field: k.string, reason: "must be a single value")
            }
            if !knownFields.contains(k.string), let known = knownFields.first(where: { $0.lowercased() == k.string.lowercased() }) {
                throw .object(index: index, name: fields["objectName"] ?? "", field: k.string, reason: "unknown field; did you mean \(known)?")
            }
            fields[k.string] = v.string.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return try build(fields, index: index)
    }

    static func build(_ f: [String: String], index: Int) throws(ProviderError) -> KeyVaultObject {
        let name = f["objectName"] ?? ""
        func fail(_ field: String, _ reason: String) -> ProviderError { .object(index: index, name: name, field: field, reason: reason) }
        guard !name.isEmpty else { throw fail("objectName", "is required: the name of the secret, key or certificate in the vault") }
        do { try KeyVaultValidation.objectName(name) } catch { throw fail("objectName", "'\(name)' is not a Key Vault name (1-127 letters, digits and '-')") }
        guard let type = ObjectType(rawValue: f["objectType"] ?? "") else {
            throw fail("objectType", "invalid objectType: '\(f["objectType"] ?? "")', should be secret, key or cert")
        }
        var version = f["objectVersion"] ?? ""
        if version.lowercased() == "latest" { version = "" }
        do { try KeyVaultValidation.objectVersion(version) } catch {
            throw fail("objectVersion", "'\(version)' is not a version: use the 32 hex characters of the version id, or leave it empty for the latest")
        }
        let alias = f["objectAlias"] ?? ""
        let format: ObjectFormat
        switch (f["objectFormat"] ?? "").lowercased() {
        case "", "pem": format = .pem
        case "pfx": format = .pfx
        default: throw fail("objectFormat", "invalid objectFormat: \(f["objectFormat"] ?? ""), should be PEM or PFX")
        }
        if format == .pfx, type != .secret {
            throw fail("objectFormat", "PFX format only supported for objectType: secret; read the certificate as objectType: secret to get the PFX")
        }
        var encoding = ObjectEncoding.utf8
        if let raw = f["objectEncoding"], !raw.isEmpty {
            guard type == .secret else { throw fail("objectEncoding", "objectEncoding only supported for objectType: secret") }
            do { encoding = try ObjectEncoding(parsing: raw) } catch { throw fail("objectEncoding", "invalid objectEncoding: \(raw), should be hex, base64 or utf-8") }
        }
        var history = 0
        if let raw = f["objectVersionHistory"], !raw.isEmpty {
            guard let n = Int(raw), (0...maxVersionHistory).contains(n) else {
                throw fail("objectVersionHistory", "'\(raw)' must be a whole number from 0 to \(maxVersionHistory)")
            }
            history = n
        }
        var mode: Int32?
        if let raw = f["filePermission"], !raw.isEmpty {
            guard raw.allSatisfy({ ("0"..."7").contains($0) }), raw.count <= 4, let n = Int32(raw, radix: 8), n <= 0o777 else {
                throw fail("filePermission", "'\(raw)' must be an octal mode such as \"0600\" or \"0644\" (quote it in YAML)")
            }
            mode = n
        }
        var optional = false
        if let raw = f["optional"], !raw.isEmpty {
            guard let flag = Bool(raw.lowercased()) else { throw fail("optional", "'\(raw)' must be true or false") }
            optional = flag
        }
        var object = KeyVaultObject(objectName: name, objectType: type, objectVersion: version, objectAlias: alias,
                                    objectVersionHistory: history, objectFormat: format, objectEncoding: encoding, filePermission: mode)
        object.optional = optional
        if let problem = FileNameRules.problem(object.fileName) {
            throw fail(alias.isEmpty ? "objectName" : "objectAlias", "file name '\(object.fileName.replacingOccurrences(of: "\0", with: "\\0"))' \(problem)")
        }
        return object
    }

    /// Two objects must not write the same file.
    package static func checkUniqueFiles(_ objects: [KeyVaultObject]) throws(ProviderError) {
        var seen: [String: Int] = [:]
        for (index, object) in objects.enumerated() {
            if let first = seen[object.fileName] {
                throw .object(index: index, name: object.objectName, field: object.objectAlias.isEmpty ? "objectName" : "objectAlias",
                              reason: "writes to '\(object.fileName)', which objects[\(first)] (\(objects[first].objectName)) already writes; give one of them a distinct objectAlias")
            }
            seen[object.fileName] = index
        }
    }
}

/// What a file name may be: one path element inside the mount.
public enum FileNameRules {
    /// Why `name` is not a safe file name, or nil when it is.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.contains("\0") { return "contains a NUL character" }
        if name.hasPrefix("/") { return "is an absolute path; use a plain file name" }
        if name.contains("..") { return "must not contain '..'" }
        if name.contains("/") { return "must not contain '/'; use a plain file name" }
        if name == "." { return "must not be '.'" }
        if name.utf8.count > 255 { return "is longer than 255 bytes" }
        return nil
    }
}
