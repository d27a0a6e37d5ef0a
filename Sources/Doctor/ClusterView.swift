import Foundation
import Kubernetes
import SecretsStoreAPI
import StructuredJSON

/// The kinds the doctor reads.
enum Kinds {
    static let pod = Pod.resourceKind
    static let secret = Secret.resourceKind
    static let serviceAccount = ServiceAccount.resourceKind
    static let event = ResourceKind(group: "", version: "v1", kind: "Event", plural: "events")
    static let newEvent = Event.resourceKind
    static let node = ResourceKind(group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false)
    static let csiNode = ResourceKind(group: "storage.k8s.io", version: "v1", kind: "CSINode", plural: "csinodes", namespaced: false)
    static let csiDriver = ResourceKind(group: "storage.k8s.io", version: "v1", kind: "CSIDriver", plural: "csidrivers", namespaced: false)
    static let daemonSet = ResourceKind(group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets")
    static let deployment = ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments")
    static let replicaSet = ResourceKind(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets")
    static let statefulSet = ResourceKind(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets")
    static let lease = Lease.resourceKind
    static let crd = ResourceKind(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false)
    static let policy = ResourceKind(group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingAdmissionPolicy",
                                     plural: "validatingadmissionpolicies", namespaced: false)
    static let policyBinding = ResourceKind(group: "admissionregistration.k8s.io", version: "v1", kind: "ValidatingAdmissionPolicyBinding",
                                            plural: "validatingadmissionpolicybindings", namespaced: false)
    static let accessReview = ResourceKind(group: "authorization.k8s.io", version: "v1", kind: "SubjectAccessReview", plural: "subjectaccessreviews", namespaced: false)
    static let spc = SecretProviderClass.resourceKind
    static let podStatus = SecretProviderClassPodStatus.resourceKind
    static let secretSync = SecretSync.resourceKind
}

/// Names the chart and upstream use, so the doctor finds what `helm install` made.
enum Names {
    static let driver = "secrets-store.csi.k8s.io"
    static let driverLabel = "app=secrets-store-csi-driver"
    static let providerLabel = "app=secrets-store-provider-azure"
    static let syncLabel = "app=secrets-store-sync-controller"
    static let leaderLease = "29f1d54e.secret-sync.x-k8s.io"
    static let usedLabel = "secrets-store.csi.k8s.io/used"
    static let workloadAudience = "api://AzureADTokenExchange"
}

/// Read access to the cluster for the checks; every read names what it was for when it fails.
struct ClusterView: Sendable {
    let client: KubernetesClient

    func get(_ kind: ResourceKind, _ name: String, namespace: String? = nil) async throws(DoctorError) -> JSONValue? {
        do { return try await client.object(kind, name: name, namespace: namespace) } catch { throw .read(what: "\(kind) \(namespace.map { "\($0)/" } ?? "")\(name)", error) }
    }

    func list(_ kind: ResourceKind, namespace: String? = nil, labels: String? = nil, fields: String? = nil) async throws(DoctorError) -> [JSONValue] {
        do { return try await client.objects(kind, namespace: namespace, labelSelector: labels, fieldSelector: fields) } catch {
            throw .read(what: "\(kind)\(namespace.map { " in \($0)" } ?? "")\(labels.map { " -l \($0)" } ?? "")", error)
        }
    }

    func document(_ path: String) async throws(DoctorError) -> JSONValue {
        do { return try await client.document(path) } catch { throw .read(what: path, error) }
    }

    /// The apiserver's service-account issuer, from its discovery document.
    func issuer() async -> String? { try? await document("/.well-known/openid-configuration")["issuer"]?.stringValue }

    /// Events about one object (core v1, which kubelet and the drivers write, plus events.k8s.io).
    func events(namespace: String, name: String, uid: String?) async throws(DoctorError) -> [EventSummary] {
        let core = try await list(Kinds.event, namespace: namespace, fields: "involvedObject.name=\(name)")
        let modern = (try? await list(Kinds.newEvent, namespace: namespace, fields: "regarding.name=\(name)")) ?? []
        var seen = Set<String>()
        var result: [EventSummary] = []
        for event in core + modern {
            let objectUID = event.text("involvedObject", "uid") ?? event.text("regarding", "uid")
            if let uid, let objectUID, !objectUID.isEmpty, objectUID != uid { continue }
            let summary = EventSummary(event)
            guard seen.insert("\(summary.reason)|\(summary.message)").inserted else { continue }
            result.append(summary)
        }
        return result.sorted { $0.last > $1.last }
    }
}

/// One Event, reduced to what the checklist shows.
struct EventSummary: Sendable {
    var type: String
    var reason: String
    var message: String
    var count: Int
    var last: String

    init(_ event: JSONValue) {
        type = event.text("type") ?? "Normal"
        reason = event.text("reason") ?? ""
        message = event.text("message") ?? event.text("note") ?? ""
        count = Int(event[path: ["count"]]?.numberValue ?? event[path: ["series", "count"]]?.numberValue ?? 1)
        last = event.text("lastTimestamp") ?? event.text("eventTime") ?? event.text("series", "lastObservedTime") ?? event.text("metadata", "creationTimestamp") ?? ""
    }
}

extension EventSummary {
    /// An API time (RFC 3339, with or without fractional seconds).
    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func format(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}

extension JSONValue {
    /// `namespace/name` of an object.
    var objectName: String {
        let name = text("metadata", "name") ?? ""
        return text("metadata", "namespace").map { "\($0)/\(name)" } ?? name
    }
}
