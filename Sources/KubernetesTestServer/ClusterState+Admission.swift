import Foundation
import SecretsStoreAPI
import StructuredJSON

extension ClusterState {
    static let pods = ResourceKind(group: "", version: "v1", kind: "Pod", plural: "pods")
    static let serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// What every write goes through after decoding: per-kind normalisation, then the CRD's defaults, pruning and
    /// validation (custom resources) or the built-in pruning and defaults.
    func admitted(_ d: ResourceDefinition, _ object: JSONValue, name: String) throws(APIError) -> JSONValue {
        var object = try Self.normalize(d, object, name: name)
        if let crd = d.crd {
            let schema = StructuralSchema(version: crd)
            object = schema.pruned(schema.defaulted(object)).0
            let causes = schema.violations(object)
            if !causes.isEmpty { throw .invalid(kind: Self.qualifiedKind(d), name, causes: causes) }
        } else if !d.custom {
            object = KnownFields.pruned(d, object).0
            BuiltinDefaults.apply(d, to: &object)
        }
        return object
    }

    /// The admission plugins a new Pod meets on kube-apiserver: ServiceAccount (the account must exist; its token
    /// volume is mounted into every container), DefaultTolerationSeconds, Priority; then Pod-only defaults and QoS.
    func admitPod(_ pod: inout JSONValue, namespace: String, name: String) throws(APIError) {
        let accountName = pod.text("spec", "serviceAccountName").flatMap { $0.isEmpty ? nil : $0 } ?? pod.text("spec", "serviceAccount") ?? "default"
        guard let account = store[ResourceRegistry.serviceAccounts]?[ObjectKey(namespace: namespace, name: accountName)] else {
            let d = definition(for: Self.pods) ?? ResourceDefinition(Self.pods)
            throw .forbidden(d, name, "error looking up service account \(namespace)/\(accountName): serviceaccount \"\(accountName)\" not found")
        }
        pod[path: ["spec", "serviceAccountName"]] = .string(accountName)
        pod[path: ["spec", "serviceAccount"]] = .string(accountName)
        let automount = pod[path: ["spec", "automountServiceAccountToken"]]?.boolValue ?? account.value["automountServiceAccountToken"]?.boolValue ?? true
        if automount { Self.mountServiceAccountToken(&pod) }

        var tolerations = pod.list("spec", "tolerations")
        for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
            let covered = tolerations.contains { t in
                (t.text("key") == key || (t.text("key") ?? "").isEmpty && t.text("operator") == "Exists")
                    && ((t.text("effect") ?? "").isEmpty || t.text("effect") == "NoExecute")
            }
            if !covered { tolerations.append(["key": .string(key), "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300]) }
        }
        pod[path: ["spec", "tolerations"]] = .array(tolerations)
        BuiltinDefaults.setDefault(&pod, ["spec", "priority"], 0)
        BuiltinDefaults.setDefault(&pod, ["spec", "enableServiceLinks"], true)
        BuiltinDefaults.setDefault(&pod, ["spec", "preemptionPolicy"], "PreemptLowerPriority")
        pod[path: ["status", "qosClass"]] = .string(Self.qosClass(pod))
    }

    /// The projected `kube-api-access-*` volume and its mount, unless a container already mounts that path.
    static func mountServiceAccountToken(_ pod: inout JSONValue) {
        let containerLists = ["containers", "initContainers"]
        let mounted = containerLists.flatMap { pod.list("spec", $0) }.contains { c in
            c.list("volumeMounts").contains { $0.text("mountPath") == serviceAccountMountPath }
        }
        guard !mounted else { return }
        let name = "kube-api-access-" + randomSuffix()
        let volume: JSONValue = ["name": .string(name), "projected": [
            "sources": [
                ["serviceAccountToken": ["expirationSeconds": 3607, "path": "token"]],
                ["configMap": ["name": "kube-root-ca.crt", "items": [["key": "ca.crt", "path": "ca.crt"]]]],
                ["downwardAPI": ["items": [["path": "namespace", "fieldRef": ["apiVersion": "v1", "fieldPath": "metadata.namespace"]]]]],
            ],
            "defaultMode": 420,
        ]]
        pod[path: ["spec", "volumes"]] = .array(pod.list("spec", "volumes") + [volume])
        for list in containerLists {
            guard let containers = pod[path: ["spec", list]]?.arrayValue else { continue }
            pod[path: ["spec", list]] = .array(containers.map { c in
                var c = c
                c["volumeMounts"] = .array(c.list("volumeMounts") + [["name": .string(name), "readOnly": true, "mountPath": .string(serviceAccountMountPath)]])
                return c
            })
        }
    }

    /// Guaranteed when every container limits CPU and memory with equal requests; BestEffort when none asks for
    /// anything; Burstable otherwise.
    static func qosClass(_ pod: JSONValue) -> String {
        let containers = pod.list("spec", "containers") + pod.list("spec", "initContainers")
        let resources = containers.map { $0["resources"] ?? [:] }
        let empty = resources.allSatisfy { ($0["requests"]?.objectValue ?? [:]).isEmpty && ($0["limits"]?.objectValue ?? [:]).isEmpty }
        if empty { return "BestEffort" }
        let guaranteed = resources.allSatisfy { r in
            ["cpu", "memory"].allSatisfy { name in
                guard let limit = r[path: ["limits", name]] else { return false }
                return (r[path: ["requests", name]] ?? limit) == limit
            }
        }
        return guaranteed ? "Guaranteed" : "Burstable"
    }
}
