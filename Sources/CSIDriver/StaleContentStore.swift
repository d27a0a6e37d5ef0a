#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import ProviderClient
import Serving

/// The last good content of each mount, kept on this node so that a pod that starts while Key Vault or Entra cannot
/// be reached can still get it (`akvs.io/serve-stale-on-outage`). Kept in a tmpfs (never on disk), root only
/// (0700 folder, 0600 files), so it survives a driver restart but not a node reboot; bounded in bytes, and each entry
/// is dropped once older than the limit of the class it was saved for.
actor StaleContentStore {
    /// What a saved mount is: the files and object versions a provider answered, and when.
    struct Entry: Codable {
        struct File: Codable {
            var path: String
            var mode: Int32
            var contents: Data
        }
        var fetchedAt: Date
        var limitSeconds: Double
        var files: [File]
        var versions: [[String]]

        var reply: ProviderMountResult {
            ProviderMountResult(files: files.map { ProviderFile(path: $0.path, mode: $0.mode, contents: Array($0.contents)) },
                                objectVersions: versions.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil })
        }
    }

    let directory: URL
    let maxBytes: Int
    /// False when the folder could not be made a tmpfs: nothing is kept (content never goes to disk).
    private(set) var usable = false
    private var prepared = false

    init(directory: String, maxBytes: Int) {
        self.directory = URL(fileURLWithPath: directory)
        self.maxBytes = maxBytes
    }

    /// The folder as a root-only tmpfs: an existing tmpfs is used as it is, anything else gets a tmpfs mounted over it.
    func prepare() -> Bool {
        if prepared { return usable }
        prepared = true
        let path = directory.path
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch { return false }
        if !Self.isTmpfs(path) {
            let size = max(maxBytes * 2, 1 << 20)
            guard Glibc.mount("tmpfs", path, "tmpfs", UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC), "mode=0700,size=\(size)") == 0, Self.isTmpfs(path) else {
                return false
            }
        }
        chmod(path, 0o700)
        usable = true
        return true
    }

    static func isTmpfs(_ path: String) -> Bool { Mounter.isTmpfs(path) }

    /// Saves a mount's content under `key` (replacing what was there), then trims the store to its byte bound.
    func save(_ key: String, reply: ProviderMountResult, limit: Duration, now: Date = Date()) {
        guard prepare() else { return }
        let entry = Entry(fetchedAt: now, limitSeconds: Double(limit.components.seconds),
                          files: reply.files.map { Entry.File(path: $0.path, mode: $0.mode, contents: Data($0.contents)) },
                          versions: reply.objectVersions.map { [$0.id, $0.version] })
        guard let data = try? JSONEncoder().encode(entry), data.count <= maxBytes else { return }
        let file = directory.appendingPathComponent(key)
        let temporary = directory.appendingPathComponent(".\(key).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600]),
              rename(temporary.path, file.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            return
        }
        trim(now: now)
    }

    /// The saved content under `key` while younger than its limit, with its age; an expired entry is removed.
    func load(_ key: String, now: Date = Date()) -> (entry: Entry, age: TimeInterval)? {
        guard prepare() else { return nil }
        let file = directory.appendingPathComponent(key)
        guard let data = try? Data(contentsOf: file), let entry = try? JSONDecoder().decode(Entry.self, from: data) else { return nil }
        let age = now.timeIntervalSince(entry.fetchedAt)
        guard age >= 0, age <= entry.limitSeconds else {
            try? FileManager.default.removeItem(at: file)
            return nil
        }
        return (entry, age)
    }

    /// Drops expired entries, then the oldest ones until the store fits `maxBytes`.
    func trim(now: Date = Date()) {
        let fm = FileManager.default
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey]
        guard let files = try? fm.contentsOfDirectory(at: directory, includingPropertiesForKeys: keys) else { return }
        var live: [(url: URL, size: Int, modified: Date)] = []
        for url in files where !url.lastPathComponent.hasPrefix(".") {
            let values = try? url.resourceValues(forKeys: Set(keys))
            live.append((url, values?.fileSize ?? 0, values?.contentModificationDate ?? .distantPast))
        }
        for item in live {
            if let data = try? Data(contentsOf: item.url), let entry = try? JSONDecoder().decode(Entry.self, from: data),
               now.timeIntervalSince(entry.fetchedAt) > entry.limitSeconds {
                try? fm.removeItem(at: item.url)
            }
        }
        live = live.filter { fm.fileExists(atPath: $0.url.path) }.sorted { $0.modified < $1.modified }
        var total = live.reduce(0) { $0 + $1.size }
        for item in live where total > maxBytes {
            try? fm.removeItem(at: item.url)
            total -= item.size
        }
    }

    /// The key of a mount: provider, namespace, the class's uid and generation, the attributes the provider sees
    /// (parameters and volume attributes, without the per-pod ones), the service account and the credentials the pod
    /// passed. Content is never served across identities, class versions or object lists.
    static func key(provider: String, namespace: String, classUID: String, generation: Int, attributes: [String: String],
                    serviceAccount: String, secrets: [String: String]) -> String {
        let perPod: Set<String> = [PodVolume.podName, PodVolume.podUID, PodVolume.serviceAccountTokens, "akvs.io/max-object-age-seconds", "csi.storage.k8s.io/ephemeral"]
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Data(text.utf8)); hasher.update(data: Data([0])) }
        for part in [provider, namespace, classUID, String(generation), serviceAccount] { add(part) }
        for (key, value) in attributes.sorted(by: { $0.key < $1.key }) where !perPod.contains(key) { add(key); add(value) }
        for (key, value) in secrets.sorted(by: { $0.key < $1.key }) where key != PodVolume.serviceAccountTokens { add(key); add(value) }
        return lowercaseHex(hasher.finalize())
    }
}
