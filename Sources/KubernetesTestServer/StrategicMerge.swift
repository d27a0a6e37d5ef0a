import StructuredJSON

/// Strategic merge patch for the core kinds: like a merge patch, but lists with a merge key (containers by
/// `name`, ports by `containerPort`, …) merge element by element, `$patch: delete` removes an element,
/// and `finalizers` merge as a set. Lists without a known key are replaced, as for an atomic list.
enum StrategicMerge {
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name", "env": "name",
        "ports": "containerPort", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
        "ownerReferences": "uid", "conditions": "type", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    ]
    static let setLists: Set<String> = ["finalizers"]

    static func apply(_ patch: JSONValue, to document: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result = document.objectValue ?? [:]
        for (key, value) in patchMembers where !key.hasPrefix("$") {
            if value == .null { result.removeValue(forKey: key); continue }
            switch (result[key], value) {
            case (.array(let current)?, .array(let items)) where mergeKeys[key] != nil:
                result[key] = .array(mergeList(current, items, key: mergeKeys[key]!))
            case (.array(let current)?, .array(let items)) where setLists.contains(key):
                result[key] = .array(current + items.filter { !current.contains($0) })
            case (.object?, .object):
                result[key] = apply(value, to: result[key]!)
            default:
                result[key] = value.objectValue != nil ? apply(value, to: .object([:])) : value
            }
        }
        return .object(result)
    }

    static func mergeList(_ current: [JSONValue], _ patch: [JSONValue], key: String) -> [JSONValue] {
        var merged = current
        for item in patch {
            guard let id = item[key] else { merged.append(item); continue }
            let index = merged.firstIndex { $0[key] == id }
            if item["$patch"]?.stringValue == "delete" {
                if let index { merged.remove(at: index) }
            } else if let index {
                merged[index] = apply(item, to: merged[index])
            } else {
                merged.append(apply(item, to: .object([:])))
            }
        }
        return merged
    }
}
