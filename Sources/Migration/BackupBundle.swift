import Foundation
import StructuredJSON

/// The inventory's backup: every original SecretProviderClass and workload manifest (server fields stripped)
/// and the inventory itself, in a 0700 folder; `rollback` restores from it. Secret values are never in it.
public struct BackupBundle: Sendable {
    public let directory: URL

    public init(directory: String) { self.directory = URL(fileURLWithPath: directory) }

    /// `./akvs-migration-<UTC timestamp>`.
    public static func defaultPath(now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return "./akvs-migration-\(formatter.string(from: now))"
    }

    var manifests: URL { directory.appendingPathComponent("manifests") }
    var inventoryFile: URL { directory.appendingPathComponent("inventory.json") }

    /// Writes the originals. An existing bundle keeps its first copy of each object (a second inventory after
    /// translate must not replace the originals with translated ones).
    public func write(_ snapshot: ClusterSnapshot, inventory: Inventory) throws(MigrationError) -> Int {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: manifests, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        } catch { throw .backup("cannot create \(directory.path) (0700): \(error)") }
        var written = 0
        let used = Set(inventory.workloads.flatMap { w in w.volumes.map { "\(w.namespace)/\($0.secretProviderClass)" } })
        let originals = snapshot.classes.filter { used.contains($0.objectKey) || inventory.workloads.isEmpty }
            + snapshot.workloads.filter { !$0.csiVolumes.isEmpty }.map(\.object)
        for object in originals {
            // A manifest without apiVersion and kind can be neither applied nor restored: refuse before writing any.
            guard !(object.text("apiVersion") ?? "").isEmpty, !(object.text("kind") ?? "").isEmpty else {
                throw .backup("\(object.objectKey) has no apiVersion or kind, so its backup could not be restored; nothing more was written")
            }
            let file = self.file(for: object)
            if fm.fileExists(atPath: file.path) { continue }
            do {
                try fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try Self.pretty(object.stripped).write(to: file, options: .atomic)
                try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
                written += 1
            } catch { throw .backup("cannot write \(file.path): \(error)") }
        }
        if !fm.fileExists(atPath: inventoryFile.path) {
            do {
                try Self.encode(inventory).write(to: inventoryFile, options: .atomic)
                try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: inventoryFile.path)
            } catch { throw .backup("cannot write \(inventoryFile.path): \(error)") }
        }
        return written
    }

    func file(for object: JSONValue) -> URL {
        let kind = object.text("kind") ?? "Object"
        let namespace = object.text("metadata", "namespace") ?? "default"
        return manifests.appendingPathComponent(kind).appendingPathComponent(namespace).appendingPathComponent("\(object.text("metadata", "name") ?? "unnamed").json")
    }

    /// Every saved manifest.
    public func originals() throws(MigrationError) -> [JSONValue] {
        guard let enumerator = FileManager.default.enumerator(atPath: manifests.path) else {
            throw .backup("\(manifests.path) not found: pass --backup-dir with the folder inventory wrote")
        }
        var objects: [JSONValue] = []
        while let item = enumerator.nextObject() as? String {
            guard item.hasSuffix(".json") else { continue }
            let url = manifests.appendingPathComponent(item)
            guard let data = try? Data(contentsOf: url), let value = try? JSONValue.parse(data) else { throw .backup("\(url.path) is not valid JSON") }
            objects.append(value)
        }
        return objects.sorted { ($0.text("kind") ?? "", $0.objectKey) < ($1.text("kind") ?? "", $1.objectKey) }
    }

    public func inventory() throws(MigrationError) -> Inventory {
        guard let data = try? Data(contentsOf: inventoryFile) else { throw .backup("\(inventoryFile.path) not found: run akvs migrate inventory --apply first") }
        do { return try JSONDecoder().decode(Inventory.self, from: data) } catch { throw .backup("\(inventoryFile.path): \(error)") }
    }

    /// Cleanup's last step: the local inventory files go (the cluster no longer needs them).
    public func remove() throws(MigrationError) {
        do { try FileManager.default.removeItem(at: directory) } catch { throw .backup("cannot remove \(directory.path): \(error)") }
    }

    static func pretty(_ value: JSONValue) -> Data {
        (try? encode(value)) ?? value.encoded()
    }

    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
