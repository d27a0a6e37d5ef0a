import Crypto
import Foundation
import SecretsStoreAPI
import StructuredJSON

/// A resource the test server serves, with the behaviour kube-apiserver gives it.
public struct ResourceDefinition: Sendable, Hashable {
    public var kind: ResourceKind
    /// `/status` is a separate subresource: the main resource ignores status, `/status` changes only status.
    public var statusSubresource: Bool
    /// Custom resources refuse strategic merge patch (415), keep `kind`/`apiVersion` in list items, answer deletes
    /// with a Status, and are defaulted, pruned and validated by their CRD's schema.
    public var custom: Bool
    public var shortNames: [String]
    /// `metadata.generation` is kept (1 on create, +1 on every spec change): custom resources, workloads, pods, policies.
    public var tracksGeneration: Bool
    /// A custom resource's CRD version: structural schema and printer columns.
    public var crd: CustomResourceVersion?

    public init(_ kind: ResourceKind, statusSubresource: Bool = false, custom: Bool = false, shortNames: [String] = [],
                tracksGeneration: Bool = false, crd: CustomResourceVersion? = nil) {
        self.kind = kind; self.statusSubresource = statusSubresource; self.custom = custom; self.shortNames = shortNames
        self.tracksGeneration = tracksGeneration || custom; self.crd = crd
    }

    /// A custom resource as its CRD (from the chart) defines it.
    static func custom(_ kind: ResourceKind) -> ResourceDefinition {
        let version = CustomResourceVersion.chart(group: kind.group, kind: kind.kind, version: kind.version)
        return ResourceDefinition(kind, statusSubresource: version?.statusSubresource ?? false, custom: true,
                                  shortNames: version?.shortNames ?? [], crd: version)
    }

    /// Fields that are not "spec" for generation purposes.
    var nonSpecFields: Set<String> { ["metadata", "status", "apiVersion", "kind"] }
}

/// The resources served: core and coordination types akvs uses, and akvs' CRDs.
public struct ResourceRegistry: Sendable {
    public var definitions: [ResourceDefinition]

    public init(_ definitions: [ResourceDefinition]) { self.definitions = definitions }

    public static let namespaces = ResourceKind(group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false)
    public static let serviceAccounts = ResourceKind(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts")

    public static let standard = ResourceRegistry([
        ResourceDefinition(namespaces, statusSubresource: true, shortNames: ["ns"]),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "Secret", plural: "secrets")),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps"), shortNames: ["cm"]),
        ResourceDefinition(serviceAccounts, shortNames: ["sa"]),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "Pod", plural: "pods"), statusSubresource: true, shortNames: ["po"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "Event", plural: "events"), shortNames: ["ev"]),
        ResourceDefinition(ResourceKind(group: "events.k8s.io", version: "v1", kind: "Event", plural: "events"), shortNames: ["ev"]),
        ResourceDefinition(ResourceKind(group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases")),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "Service", plural: "services"), statusSubresource: true, shortNames: ["svc"]),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false), statusSubresource: true, shortNames: ["no"]),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "ReplicationController", plural: "replicationcontrollers"), statusSubresource: true,
                           shortNames: ["rc"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "", version: "v1", kind: "PodTemplate", plural: "podtemplates")),
        // Workloads, RBAC, storage and admission objects: stored as given, so installs (helm, kubectl apply) and
        // tools that read them (migrate, doctor) can be tested; no controller acts on them.
        ResourceDefinition(ResourceKind(group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets"), statusSubresource: true, shortNames: ["ds"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments"), statusSubresource: true, shortNames: ["deploy"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets"), statusSubresource: true, shortNames: ["rs"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets"), statusSubresource: true, shortNames: ["sts"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "batch", version: "v1", kind: "Job", plural: "jobs"), statusSubresource: true, tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs"), statusSubresource: true, shortNames: ["cj"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false)),
        ResourceDefinition(ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false)),
        ResourceDefinition(ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles")),
        ResourceDefinition(ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings")),
        ResourceDefinition(ResourceKind(group: "storage.k8s.io", version: "v1", kind: "CSIDriver", plural: "csidrivers", namespaced: false)),
        ResourceDefinition(ResourceKind(group: "storage.k8s.io", version: "v1", kind: "CSINode", plural: "csinodes", namespaced: false)),
        ResourceDefinition(ResourceKind(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false),
                           statusSubresource: true, shortNames: ["crd", "crds"], tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingAdmissionPolicy",
                                        plural: "validatingadmissionpolicies", namespaced: false), statusSubresource: true, tracksGeneration: true),
        ResourceDefinition(ResourceKind(group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingAdmissionPolicyBinding",
                                        plural: "validatingadmissionpolicybindings", namespaced: false), tracksGeneration: true),
        .custom(SecretProviderClass.resourceKind),
        .custom(SecretProviderClassPodStatus.resourceKind),
        .custom(SecretSync.resourceKind),
        .custom(AKVSync.resourceKind),
    ])

    func find(group: String, version: String, plural: String) -> ResourceDefinition? {
        definitions.first { $0.kind.group == group && $0.kind.version == version && $0.kind.plural == plural }
    }

    var groupVersions: [(group: String, version: String)] {
        var seen: [String] = []
        var result: [(String, String)] = []
        for d in definitions where !d.kind.group.isEmpty && !seen.contains(d.kind.apiVersion) {
            seen.append(d.kind.apiVersion); result.append((d.kind.group, d.kind.version))
        }
        return result
    }

    // MARK: discovery documents, shaped like kube-apiserver's

    func apiVersions() -> JSONValue {
        .object(["kind": "APIVersions", "versions": .array(["v1"]),
                 "serverAddressByClientCIDRs": .array([.object(["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"])])])
    }

    func apiGroupList() -> JSONValue {
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for (group, version) in groupVersions {
            if groups[group] == nil { order.append(group) }
            groups[group, default: []].append(version)
        }
        return .object(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(order.map { group in
            let versions = groups[group]!.map { JSONValue.object(["groupVersion": .string("\(group)/\($0)"), "version": .string($0)]) }
            return .object(["name": .string(group), "versions": .array(versions), "preferredVersion": versions[0]])
        })])
    }

    func resourceList(group: String, version: String) -> JSONValue? {
        let defs = definitions.filter { $0.kind.group == group && $0.kind.version == version }
        guard !defs.isEmpty else { return nil }
        var resources: [JSONValue] = []
        for d in defs {
            var verbs: [JSONValue] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            if d.kind.plural == "namespaces" { verbs.removeAll { $0 == "deletecollection" } }
            var resource: JSONValue = [
                "name": .string(d.kind.plural), "singularName": .string(d.kind.kind.lowercased()), "namespaced": .bool(d.kind.namespaced),
                "kind": .string(d.kind.kind), "verbs": .array(verbs), "storageVersionHash": .string(Self.storageVersionHash(d.kind)),
            ]
            // As kube-apiserver: the key is absent when a resource has no short names.
            if !d.shortNames.isEmpty { resource["shortNames"] = .array(d.shortNames.map { .string($0) }) }
            resources.append(resource)
            if d.statusSubresource {
                resources.append(.object(["name": .string("\(d.kind.plural)/status"), "singularName": "", "namespaced": .bool(d.kind.namespaced),
                                          "kind": .string(d.kind.kind), "verbs": ["get", "patch", "update"]]))
            }
            if d.kind == Self.serviceAccounts {
                resources.append(.object(["name": "serviceaccounts/token", "singularName": "", "namespaced": true, "group": "authentication.k8s.io",
                                          "version": "v1", "kind": "TokenRequest", "verbs": ["create"]]))
            }
        }
        return .object(["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(defs[0].kind.apiVersion), "resources": .array(resources)])
    }

    /// An opaque hash of the storage version, shaped like kube-apiserver's (8 bytes, base64).
    static func storageVersionHash(_ kind: ResourceKind) -> String {
        Data(SHA256.hash(data: Data("\(kind.group)/\(kind.version)/\(kind.kind)".utf8)).prefix(8)).base64EncodedString()
    }
}
