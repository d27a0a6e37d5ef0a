import Foundation
import SecretsStoreAPI
import StructuredJSON

/// How a write was asked for.
struct WriteContext: Sendable {
    var fieldManager: String
    var subresource: String?
    var dryRun = false
}

extension ClusterState {
    // MARK: create

    func create(_ d: ResourceDefinition, namespace: String?, body: JSONValue, context: WriteContext,
                appliedPaths: Set<FieldPath>? = nil) throws(APIError) -> StoredObject {
        var object = try checkedBody(d, namespace: namespace, body: body)
        var name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        if name.isEmpty, let prefix = object[path: ["metadata", "generateName"]]?.stringValue, !prefix.isEmpty {
            name = prefix + Self.randomSuffix()
            object[path: ["metadata", "name"]] = .string(name)
        }
        guard !name.isEmpty else {
            throw .invalid(kind: Self.qualifiedKind(d), "", field: "metadata.name", value: "\"\"", "name or generateName is required")
        }
        try Self.validateName(d, name)
        if d.kind.namespaced, let namespace {
            guard let ns = store[ResourceRegistry.namespaces]?[ObjectKey(namespace: nil, name: namespace)] else { throw .namespaceNotFound(namespace) }
            if ns.value[path: ["metadata", "deletionTimestamp"]] != nil { throw .namespaceTerminating(d, name, namespace: namespace) }
        }
        let key = ObjectKey(namespace: d.kind.namespaced ? namespace : nil, name: name)
        guard store[d.kind]?[key] == nil else {
            if d.kind == ResourceRegistry.namespaces, store[d.kind]?[key]?.value[path: ["metadata", "deletionTimestamp"]] != nil {
                throw APIError(code: 409, reason: "AlreadyExists", message: "object is being deleted: namespaces \"\(name)\" already exists",
                               details: APIError.details(d, name))
            }
            throw .alreadyExists(d, name)
        }

        object[path: ["metadata", "uid"]] = .string(UUID().uuidString.lowercased())
        object[path: ["metadata", "creationTimestamp"]] = .string(APITime.string(Date()))
        object[path: ["metadata", "deletionTimestamp"]] = nil
        object[path: ["metadata", "managedFields"]] = nil
        if d.tracksGeneration { object[path: ["metadata", "generation"]] = 1 }
        if d.statusSubresource { object["status"] = BuiltinDefaults.initialStatus(d) }
        object = try admitted(d, object, name: name)
        if d.kind == Self.pods, let namespace { try admitPod(&object, namespace: namespace, name: name) }

        var ownership = FieldOwnership()
        ownership.recordUpdate(manager: .init(name: context.fieldManager, operation: appliedPaths == nil ? "Update" : "Apply", subresource: nil),
                               changed: appliedPaths ?? FieldOwnership.leafPaths(of: object, includeStatus: !d.statusSubresource),
                               time: APITime.string(Date()), apiVersion: d.kind.apiVersion)
        if context.dryRun { return StoredObject(value: object, ownership: ownership, listItem: !d.custom) }
        let stored = commit(d, key: key, value: object, ownership: ownership, type: "ADDED", previous: nil)!
        // As kube-controller-manager's service-account controller does in every new namespace.
        if d.kind == ResourceRegistry.namespaces, let accounts = definition(for: ResourceRegistry.serviceAccounts) {
            _ = try? create(accounts, namespace: name, body: ["metadata": ["name": "default"]], context: WriteContext(fieldManager: "kube-controller-manager"))
        }
        return stored
    }

    // MARK: update

    /// PUT: replaces the object (or only its status on `/status`); a stale resourceVersion is a 409.
    func update(_ d: ResourceDefinition, namespace: String?, name: String, body: JSONValue, context: WriteContext) throws(APIError) -> StoredObject {
        let object = try checkedBody(d, namespace: namespace, body: body)
        if let bodyName = object[path: ["metadata", "name"]]?.stringValue, bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        let current = try get(d, namespace: namespace, name: name)
        if let rv = object[path: ["metadata", "resourceVersion"]]?.stringValue, !rv.isEmpty, rv != String(current.resourceVersion) {
            throw .conflict(d, name)
        }
        return try write(d, current: current, proposed: object, context: context)
    }

    /// The common end of update and patch: keeps server-owned fields, bumps generation, records ownership, commits if changed.
    func write(_ d: ResourceDefinition, current: StoredObject, proposed: JSONValue, context: WriteContext,
               applied: (manager: FieldOwnership.Manager, paths: Set<FieldPath>)? = nil) throws(APIError) -> StoredObject {
        let old = current.value
        var new = proposed
        let name = old[path: ["metadata", "name"]]?.stringValue ?? ""
        if context.subresource == "status" {
            // Only status changes through /status.
            var merged = old
            merged["status"] = new["status"]
            new = merged
        } else {
            if d.statusSubresource { new["status"] = old["status"] }
            for field in ["uid", "creationTimestamp", "deletionTimestamp", "namespace", "name", "generation"] {
                new[path: ["metadata", field]] = old[path: ["metadata", field]]
            }
            if new[path: ["metadata", "generateName"]] == nil { new[path: ["metadata", "generateName"]] = old[path: ["metadata", "generateName"]] }
        }
        new["apiVersion"] = .string(d.kind.apiVersion)
        new["kind"] = .string(d.kind.kind)
        new = try admitted(d, new, name: name)
        new[path: ["metadata", "resourceVersion"]] = old[path: ["metadata", "resourceVersion"]]
        new[path: ["metadata", "managedFields"]] = old[path: ["metadata", "managedFields"]]
        if d.tracksGeneration, Self.specChanged(d, old, new) {
            new[path: ["metadata", "generation"]] = .number((old[path: ["metadata", "generation"]]?.numberValue ?? 1) + 1)
        }

        var ownership = current.ownership
        let time = APITime.string(Date())
        let includeStatus = context.subresource == "status" || !d.statusSubresource
        let includeSpec = context.subresource != "status"
        if let applied {
            ownership.entries[applied.manager] = FieldOwnership.Entry(fields: applied.paths, time: time, apiVersion: d.kind.apiVersion)
            // Applying a field's current value shares ownership; changing it (only possible with force) takes it.
            let taken = applied.paths.filter { old[path: $0] != new[path: $0] }
            for key in ownership.entries.keys where key != applied.manager { ownership.entries[key]!.fields.subtract(taken) }
            ownership.entries = ownership.entries.filter { !$0.value.fields.isEmpty }
        } else {
            let changed = FieldOwnership.changedPaths(from: old, to: new, includeStatus: includeStatus, includeSpec: includeSpec)
            ownership.recordUpdate(manager: .init(name: context.fieldManager, operation: "Update", subresource: context.subresource),
                                   changed: changed, time: time, apiVersion: d.kind.apiVersion)
        }
        // A write that changes nothing keeps the resourceVersion and sends no event, as kube-apiserver does.
        if new == old && ownership.entries.mapValues(\.fields) == current.ownership.entries.mapValues(\.fields) { return current }
        if context.dryRun { return StoredObject(value: new, ownership: ownership, listItem: !d.custom) }

        let key = ObjectKey(namespace: old[path: ["metadata", "namespace"]]?.stringValue, name: name)
        if old[path: ["metadata", "deletionTimestamp"]] != nil, (new[path: ["metadata", "finalizers"]]?.arrayValue ?? []).isEmpty {
            // The last finalizer is gone: the pending delete completes.
            let stored = commit(d, key: key, value: new, ownership: ownership, type: "DELETED", previous: old)!
            collectGarbage(ownerUID: current.uid, policy: "Background")
            return stored
        }
        return commit(d, key: key, value: new, ownership: ownership, type: "MODIFIED", previous: old)!
    }

    // MARK: patch and apply

    func patch(_ d: ResourceDefinition, namespace: String?, name: String, contentType: String, body: Data, force: Bool, context: WriteContext) throws(APIError) -> StoredObject {
        if contentType.hasPrefix("application/apply-patch") {
            return try apply(d, namespace: namespace, name: name, body: body, force: force, context: context)
        }
        // The media type is checked before the object is read: a strategic merge patch of a missing custom resource is 415, not 404.
        let supported = ["application/merge-patch+json", "application/json-patch+json"] + (d.custom ? [] : ["application/strategic-merge-patch+json"])
        guard supported.contains(where: contentType.hasPrefix) else { throw .unsupportedMediaType(custom: d.custom) }
        let patch: JSONValue
        do { patch = try JSONValue.parse(body) } catch { throw .badRequest("the patch body is not valid JSON: \(error)") }
        let current = try get(d, namespace: namespace, name: name)
        let patched: JSONValue
        if contentType.hasPrefix("application/merge-patch+json") {
            patched = current.value.mergePatched(with: patch)
        } else if contentType.hasPrefix("application/strategic-merge-patch+json") {
            patched = StrategicMerge.apply(patch, to: current.value)
        } else {
            patched = try JSONPatch.apply(patch, to: current.value)
        }
        if let rv = patch[path: ["metadata", "resourceVersion"]]?.stringValue, rv != String(current.resourceVersion) {
            throw .conflict(d, name)
        }
        return try write(d, current: current, proposed: patched, context: context)
    }

    /// Server-side apply: creates or merges, refuses fields another manager owns with a different value
    /// (unless `force`), and removes fields this manager applied before and no longer applies.
    func apply(_ d: ResourceDefinition, namespace: String?, name: String, body: Data, force: Bool, context: WriteContext) throws(APIError) -> StoredObject {
        guard !context.fieldManager.isEmpty else {
            throw .required(kind: "PatchOptions.meta.k8s.io", "", field: "fieldManager", "is required for apply patch")
        }
        var config = try YAMLBody.parse(body)
        guard config["apiVersion"]?.stringValue == d.kind.apiVersion, config["kind"]?.stringValue == d.kind.kind else {
            throw .badRequest("apply configuration must set apiVersion \(d.kind.apiVersion) and kind \(d.kind.kind)")
        }
        if let bodyName = config[path: ["metadata", "name"]]?.stringValue, bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        config[path: ["metadata", "name"]] = .string(name)
        let manager = FieldOwnership.Manager(name: context.fieldManager, operation: "Apply", subresource: context.subresource)
        let isStatus = context.subresource == "status"
        let paths = FieldOwnership.leafPaths(of: config, includeStatus: isStatus || !d.statusSubresource, includeSpec: !isStatus)

        guard let current = store[d.kind]?[ObjectKey(namespace: d.kind.namespaced ? namespace : nil, name: name)] else {
            guard !isStatus else { throw .notFound(d, name) }
            return try create(d, namespace: namespace, body: config, context: context, appliedPaths: paths)
        }
        let conflicts = current.ownership.conflicts(applying: config, paths: paths, current: current.value, manager: manager)
        if !conflicts.isEmpty && !force {
            // Worded as recorded from kube-apiserver: "using <apiVersion>" appears only when the owner applied another version.
            let fields = conflicts.map { "." + $0.path.joined(separator: ".") }
            let message = conflicts.count == 1
                ? "Apply failed with 1 conflict: conflict with \"\(conflicts[0].manager)\": \(fields[0])"
                : "Apply failed with \(conflicts.count) conflicts: " + zip(conflicts, fields).map { "conflict with \"\($0.manager)\": \($1)" }.joined(separator: "\n")
            throw APIError(code: 409, reason: "Conflict", message: message,
                           details: ["causes": .array(zip(conflicts, fields).map { ["reason": "FieldManagerConflict", "message": .string("conflict with \"\($0.manager)\""), "field": .string($1)] })])
        }
        var merged = current.value
        let previouslyApplied = current.ownership.entries[manager]?.fields ?? []
        let othersOwn = current.ownership.entries.filter { $0.key != manager }.values.reduce(into: Set<FieldPath>()) { $0.formUnion($1.fields) }
        // As kube-apiserver (structured-merge-diff prune): a field another manager owns stays, force or not.
        for path in previouslyApplied.subtracting(paths) where !othersOwn.contains(path) { merged.remove(path: path) }
        var applicable = config
        applicable["metadata"] = config["metadata"].map { meta in
            var kept: JSONValue = [:]
            for field in ["labels", "annotations", "ownerReferences", "finalizers"] { kept[field] = meta[field] }
            return kept
        }
        if isStatus { applicable = ["status": config["status"] ?? [:]] } else if d.statusSubresource { applicable["status"] = nil }
        merged = merged.applying(applicable)
        return try write(d, current: current, proposed: merged, context: context, applied: (manager, paths))
    }

    // MARK: delete

    struct DeleteOptions: Sendable {
        var uid: String?
        var resourceVersion: String?
        var propagationPolicy: String?
    }

    func delete(_ d: ResourceDefinition, namespace: String?, name: String, options: DeleteOptions) throws(APIError) -> StoredObject {
        let current = try get(d, namespace: namespace, name: name)
        if let uid = options.uid, uid != current.uid {
            throw .conflict(d, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current.uid)")
        }
        if let rv = options.resourceVersion, rv != String(current.resourceVersion) {
            throw .conflict(d, name, "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(current.resourceVersion)")
        }
        let key = ObjectKey(namespace: d.kind.namespaced ? namespace : nil, name: name)
        if !(current.value[path: ["metadata", "finalizers"]]?.arrayValue ?? []).isEmpty {
            guard current.value[path: ["metadata", "deletionTimestamp"]] == nil else { return current }
            var marked = current.value
            marked[path: ["metadata", "deletionTimestamp"]] = .string(APITime.string(Date()))
            return commit(d, key: key, value: marked, ownership: current.ownership, type: "MODIFIED", previous: current.value)!
        }
        if d.kind == ResourceRegistry.namespaces {
            // As kube-apiserver and the namespace controller: the namespace turns Terminating at once (new content is
            // refused), its contents go, and then the namespace itself.
            guard current.value[path: ["metadata", "deletionTimestamp"]] == nil else { return current }
            var marked = current.value
            marked[path: ["metadata", "deletionTimestamp"]] = .string(APITime.string(Date()))
            marked[path: ["status", "phase"]] = "Terminating"
            let terminating = commit(d, key: key, value: marked, ownership: current.ownership, type: "MODIFIED", previous: current.value)!
            let delay = namespaceFinalizeDelay
            Task { [weak self] in
                try? await Task.sleep(for: delay)
                await self?.finalizeNamespace(name, uid: current.uid)
            }
            return terminating
        }
        let deleted = commit(d, key: key, value: nil, ownership: current.ownership, type: "DELETED", previous: current.value)!
        collectGarbage(ownerUID: current.uid, policy: options.propagationPolicy ?? "Background")
        return deleted
    }

    /// Background: dependents left without any existing owner are deleted (recursively).
    /// Orphan: dependents lose the reference to the deleted owner. Foreground is handled as Background.
    func collectGarbage(ownerUID: String, policy: String) {
        let liveUIDs = Set(store.values.flatMap { $0.values.map(\.uid) })
        for (kind, objects) in store {
            guard let d = definition(for: kind) else { continue }
            for (key, object) in objects where object.ownerUIDs.contains(ownerUID) {
                let remaining = object.ownerUIDs.filter { $0 != ownerUID && liveUIDs.contains($0) }
                if policy == "Orphan" || !remaining.isEmpty {
                    var value = object.value
                    let refs = (value[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != ownerUID }
                    value[path: ["metadata", "ownerReferences"]] = refs.isEmpty ? nil : .array(refs)
                    commit(d, key: key, value: value, ownership: object.ownership, type: "MODIFIED", previous: object.value)
                } else {
                    _ = try? delete(d, namespace: key.namespace, name: key.name, options: DeleteOptions(propagationPolicy: "Background"))
                }
            }
        }
    }

    /// The namespace controller's part: every object in the namespace is deleted, then the namespace.
    func finalizeNamespace(_ name: String, uid: String) {
        let key = ObjectKey(namespace: nil, name: name)
        guard let current = store[ResourceRegistry.namespaces]?[key], current.uid == uid, let d = definition(for: ResourceRegistry.namespaces) else { return }
        deleteContents(ofNamespace: name)
        commit(d, key: key, value: nil, ownership: current.ownership, type: "DELETED", previous: current.value)
        collectGarbage(ownerUID: uid, policy: "Background")
    }

    func deleteContents(ofNamespace namespace: String) {
        for (kind, objects) in store where kind.namespaced {
            guard let d = definition(for: kind) else { continue }
            for key in objects.keys where key.namespace == namespace {
                if let object = store[kind]?[key] {
                    commit(d, key: key, value: nil, ownership: object.ownership, type: "DELETED", previous: object.value)
                }
            }
        }
    }

    // MARK: helpers

    func checkedBody(_ d: ResourceDefinition, namespace: String?, body: JSONValue) throws(APIError) -> JSONValue {
        guard case .object = body else { throw .badRequest("the request body must be a JSON object (a \(d.kind.kind))") }
        var object = body
        if let apiVersion = object["apiVersion"]?.stringValue, apiVersion != d.kind.apiVersion {
            throw .badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(d.kind.apiVersion))")
        }
        if let kind = object["kind"]?.stringValue, kind != d.kind.kind {
            throw .badRequest("the kind in the data (\(kind)) does not match the expected kind (\(d.kind.kind))")
        }
        object["apiVersion"] = .string(d.kind.apiVersion)
        object["kind"] = .string(d.kind.kind)
        if d.kind.namespaced {
            if let ns = object[path: ["metadata", "namespace"]]?.stringValue, !ns.isEmpty, ns != namespace {
                throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            object[path: ["metadata", "namespace"]] = namespace.map(JSONValue.string)
        } else {
            object[path: ["metadata", "namespace"]] = nil
        }
        return object
    }

    /// Per-kind rules kube-apiserver applies: Secret `stringData` folds into base64 `data`, default type Opaque.
    static func normalize(_ d: ResourceDefinition, _ object: JSONValue, name: String) throws(APIError) -> JSONValue {
        guard d.kind.group.isEmpty, d.kind.kind == "Secret" else { return object }
        var object = object
        var data = object["data"]?.objectValue ?? [:]
        for (key, value) in data {
            guard let text = value.stringValue, Data(base64Encoded: text) != nil else {
                throw .invalid(kind: "Secret", name, field: "data[\(key)]", value: "<value omitted>", "must be base64-encoded")
            }
        }
        for (key, value) in object["stringData"]?.objectValue ?? [:] {
            data[key] = .string(Data((value.stringValue ?? "").utf8).base64EncodedString())
        }
        object["stringData"] = nil
        object["data"] = data.isEmpty ? nil : .object(data)
        if object["type"] == nil { object["type"] = "Opaque" }
        return object
    }

    static func specChanged(_ d: ResourceDefinition, _ old: JSONValue, _ new: JSONValue) -> Bool {
        let skip = d.nonSpecFields
        let o = (old.objectValue ?? [:]).filter { !skip.contains($0.key) }
        let n = (new.objectValue ?? [:]).filter { !skip.contains($0.key) }
        return o != n
    }

    static func validateName(_ d: ResourceDefinition, _ name: String) throws(APIError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        let valid = name.count <= 253 && name.allSatisfy(allowed.contains) && name.first.map { $0.isLetter || $0.isNumber } == true
            && name.last.map { $0.isLetter || $0.isNumber } == true
        guard valid else {
            throw .invalid(kind: qualifiedKind(d), name, field: "metadata.name", value: "\"\(name)\"",
                           "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
        }
    }

    static func qualifiedKind(_ d: ResourceDefinition) -> String { d.kind.group.isEmpty ? d.kind.kind : "\(d.kind.kind).\(d.kind.group)" }

    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}
