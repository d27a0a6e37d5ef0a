import StructuredJSON

/// A field path in an object, e.g. `["data", "password"]`; lists are owned whole (atomic), as for
/// most fields akvs writes.
typealias FieldPath = [String]

/// Who owns which fields of one object: the core of server-side apply.
struct FieldOwnership: Sendable {
    struct Manager: Sendable, Hashable {
        var name: String
        /// `Apply` or `Update`.
        var operation: String
        var subresource: String?
    }
    struct Entry: Sendable {
        var fields: Set<FieldPath>
        var time: String
        var apiVersion: String
    }
    var entries: [Manager: Entry] = [:]

    /// The leaf paths of a value, skipping server-owned metadata and, unless `statusOnly`, status.
    static func leafPaths(of value: JSONValue, includeStatus: Bool, includeSpec: Bool = true) -> Set<FieldPath> {
        var result: Set<FieldPath> = []
        guard case .object(let top) = value else { return result }
        for (key, member) in top where key != "apiVersion" && key != "kind" {
            if key == "status" && !includeStatus { continue }
            if key != "status" && key != "metadata" && !includeSpec { continue }
            if key == "metadata" {
                guard case .object(let meta) = member else { continue }
                for field in ["labels", "annotations"] {
                    for k in meta[field]?.objectValue?.keys ?? [:].keys { result.insert(["metadata", field, k]) }
                }
                for field in ["ownerReferences", "finalizers"] where meta[field] != nil { result.insert(["metadata", field]) }
                continue
            }
            collect(member, prefix: [key], into: &result)
        }
        return result
    }

    private static func collect(_ value: JSONValue, prefix: FieldPath, into result: inout Set<FieldPath>) {
        if case .object(let members) = value, !members.isEmpty {
            for (k, v) in members { collect(v, prefix: prefix + [k], into: &result) }
        } else {
            result.insert(prefix)
        }
    }

    /// Paths whose value differs between two objects (including added and removed ones).
    static func changedPaths(from old: JSONValue, to new: JSONValue, includeStatus: Bool, includeSpec: Bool = true) -> Set<FieldPath> {
        let all = leafPaths(of: old, includeStatus: includeStatus, includeSpec: includeSpec).union(leafPaths(of: new, includeStatus: includeStatus, includeSpec: includeSpec))
        return all.filter { old[path: $0] != new[path: $0] }
    }

    /// An update by `manager` takes the changed fields from everyone else.
    mutating func recordUpdate(manager: Manager, changed: Set<FieldPath>, time: String, apiVersion: String) {
        guard !changed.isEmpty else { return }
        for key in entries.keys where key != manager { entries[key]!.fields.subtract(changed) }
        var entry = entries[manager] ?? Entry(fields: [], time: time, apiVersion: apiVersion)
        entry.fields.formUnion(changed); entry.time = time
        entries[manager] = entry
        entries = entries.filter { !$0.value.fields.isEmpty }
    }

    /// Fields owned by managers other than `manager` whose current value differs from the applied one. As in
    /// kube-apiserver a manager is its name *and* operation: fields a name set by Update (create, update, patch)
    /// conflict with an Apply under the same name (kubernetes/kubernetes#107417).
    func conflicts(applying applied: JSONValue, paths: Set<FieldPath>, current: JSONValue, manager: Manager) -> [(manager: String, path: FieldPath)] {
        var result: [(String, FieldPath)] = []
        for (other, entry) in entries where other != manager {
            for path in entry.fields.intersection(paths) where current[path: path] != applied[path: path] {
                result.append((other.name, path))
            }
        }
        return result.sorted { $0.1.joined(separator: ".") < $1.1.joined(separator: ".") }
    }

    /// `metadata.managedFields` in FieldsV1 form.
    func managedFields() -> JSONValue {
        let sorted = entries.sorted { ($0.key.name, $0.key.operation) < ($1.key.name, $1.key.operation) }
        return .array(sorted.map { manager, entry in
            var fields: JSONValue = .object([:])
            for path in entry.fields {
                fields[path: path.map { "f:\($0)" }] = .object([:])
            }
            var item: JSONValue = ["manager": .string(manager.name), "operation": .string(manager.operation), "apiVersion": .string(entry.apiVersion),
                                   "time": .string(entry.time), "fieldsType": "FieldsV1", "fieldsV1": fields]
            if let sub = manager.subresource { item["subresource"] = .string(sub) }
            return item
        })
    }
}

extension JSONValue {
    /// Deep merge for apply: objects merge, everything else (lists included) is replaced.
    func applying(_ config: JSONValue) -> JSONValue {
        guard case .object(let patch) = config, case .object(var base) = self else { return config }
        for (k, v) in patch { base[k] = (base[k] ?? .null).applying(v) }
        return .object(base)
    }

    /// Removes the value at a path and prunes objects left empty on the way (but never the top level).
    mutating func remove(path: FieldPath) {
        guard let first = path.first else { return }
        guard case .object(var members) = self else { return }
        if path.count == 1 {
            members.removeValue(forKey: first)
        } else if var child = members[first] {
            child.remove(path: Array(path.dropFirst()))
            if case .object(let m) = child, m.isEmpty { members.removeValue(forKey: first) } else { members[first] = child }
        }
        self = .object(members)
    }
}
