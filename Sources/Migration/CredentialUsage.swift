import Kubernetes
import SecretsStoreAPI
import StructuredJSON

/// Who still names a Secret in a namespace, read fresh before cleanup deletes it: every pod and every pod template of
/// every workload kind. The check fails closed: a kind that cannot be listed, or an object whose pod spec cannot be
/// found, blocks every delete in its namespace and is named; any string in a pod spec equal to the Secret's name
/// counts as a use (a volume, an env reference, an image pull secret, a CSI nodePublishSecretRef, or anything else).
public struct CredentialUsage: Sendable {
    /// Where a pod spec lives in each kind that has one.
    static let podSpecPaths: [(kind: ResourceKind, path: [String])] = [
        (MigrationKinds.pod, ["spec"]),
        (MigrationKinds.deployment, ["spec", "template", "spec"]), (MigrationKinds.statefulSet, ["spec", "template", "spec"]),
        (MigrationKinds.daemonSet, ["spec", "template", "spec"]), (MigrationKinds.replicaSet, ["spec", "template", "spec"]),
        (MigrationKinds.job, ["spec", "template", "spec"]), (MigrationKinds.cronJob, ["spec", "jobTemplate", "spec", "template", "spec"]),
        (MigrationKinds.replicationController, ["spec", "template", "spec"]), (MigrationKinds.podTemplate, ["template", "spec"]),
    ]

    /// `namespace` → the pod specs found there, as (`Kind/name`, spec).
    var specs: [String: [(owner: String, spec: JSONValue)]] = [:]
    /// `namespace` (or "" for every namespace) → what could not be read or classified.
    var unreadable: [String: [String]] = [:]

    public init() {}

    /// Reads every kind that holds a pod spec in the namespaces of `namespaces`.
    public static func scan(client: KubernetesClient, namespaces: Set<String>) async -> CredentialUsage {
        var usage = CredentialUsage()
        for namespace in namespaces.sorted() {
            for entry in podSpecPaths {
                do {
                    for object in try await client.objects(entry.kind, namespace: namespace) { usage.add(object, kind: entry.kind.kind) }
                } catch {
                    usage.unreadable[namespace, default: []].append("\(entry.kind.plural) could not be listed (\(error))")
                }
            }
        }
        return usage
    }

    /// Files one listed object; an object of no known kind, or without a pod spec where its kind has one, is unreadable.
    mutating func add(_ object: JSONValue, kind listed: String? = nil) {
        let namespace = object.text("metadata", "namespace") ?? "default"
        let kind = object.text("kind") ?? listed ?? "?"
        let name = object.text("metadata", "name") ?? "?"
        guard let entry = Self.podSpecPaths.first(where: { $0.kind.kind == kind }) else {
            unreadable[namespace, default: []].append("\(kind)/\(name) is not a kind cleanup knows")
            return
        }
        guard let spec = object[path: entry.path], spec.objectValue != nil else {
            unreadable[namespace, default: []].append("\(kind)/\(name) has no pod spec at \(entry.path.joined(separator: "."))")
            return
        }
        specs[namespace, default: []].append(("\(kind)/\(name)", spec))
    }

    /// Why the Secret must stay, or nil when nothing names it and everything in its namespace was read.
    public func blocker(secret name: String, namespace: String) -> String? {
        if let problems = unreadable[namespace], !problems.isEmpty {
            return "kept: cleanup cannot prove nothing in \(namespace) uses it: " + problems.joined(separator: "; ")
        }
        var uses: [String] = []
        for (owner, spec) in specs[namespace] ?? [] {
            uses += Self.paths(of: name, in: spec, at: "").map { "\(owner) at \($0)" }
        }
        guard !uses.isEmpty else { return nil }
        return "kept: still named by " + uses.prefix(5).joined(separator: ", ") + (uses.count > 5 ? " and \(uses.count - 5) more" : "")
    }

    /// Every path in `value` whose string equals `name`.
    static func paths(of name: String, in value: JSONValue, at path: String) -> [String] {
        switch value {
        case .string(let text): return text == name ? [path] : []
        case .object(let members):
            return members.sorted { $0.key < $1.key }.flatMap { key, child in paths(of: name, in: child, at: path.isEmpty ? key : "\(path).\(key)") }
        case .array(let items):
            return items.enumerated().flatMap { index, child in
                paths(of: name, in: child, at: "\(path)[\(child.text("name").map { "\($0)" } ?? String(index))]")
            }
        default: return []
        }
    }
}
