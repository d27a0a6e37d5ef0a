import Kubernetes
import SecretsStoreAPI
import StructuredJSON

/// The kinds the migration reads and writes.
public enum MigrationKinds {
    static let pod = Pod.resourceKind
    static let secret = Secret.resourceKind
    static let serviceAccount = ServiceAccount.resourceKind
    static let namespace = Namespace.resourceKind
    static let deployment = ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments")
    static let statefulSet = ResourceKind(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets")
    static let daemonSet = ResourceKind(group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets")
    static let replicaSet = ResourceKind(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets")
    static let job = ResourceKind(group: "batch", version: "v1", kind: "Job", plural: "jobs")
    static let cronJob = ResourceKind(group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs")
    static let replicationController = ResourceKind(group: "", version: "v1", kind: "ReplicationController", plural: "replicationcontrollers")
    static let podTemplate = ResourceKind(group: "", version: "v1", kind: "PodTemplate", plural: "podtemplates")
    static let spc = SecretProviderClass.resourceKind
    static let secretSync = SecretSync.resourceKind
    static let akvSync = AKVSync.resourceKind

    /// Workload kinds by name, with where their pod template lives.
    static let workloads: [(kind: ResourceKind, template: [String])] = [
        (deployment, ["spec", "template"]), (statefulSet, ["spec", "template"]), (daemonSet, ["spec", "template"]),
        (replicaSet, ["spec", "template"]), (job, ["spec", "template"]), (cronJob, ["spec", "jobTemplate", "spec", "template"]),
        (pod, []),
    ]

    static func kind(named name: String) -> ResourceKind? {
        ([spc, secretSync, akvSync, secret, serviceAccount] + workloads.map(\.kind)).first { $0.kind == name }
    }
}

/// A pod template owner (or a bare pod): what the workload stage rewrites.
public struct Workload: Sendable {
    public var object: JSONValue
    let resource: ResourceKind
    let templatePath: [String]

    init?(_ object: JSONValue) {
        guard let kind = object.text("kind"), let entry = MigrationKinds.workloads.first(where: { $0.kind.kind == kind }) else { return nil }
        self.object = object; resource = entry.kind; templatePath = entry.template
    }

    public var kind: String { resource.kind }
    public var name: String { object.text("metadata", "name") ?? "" }
    public var namespace: String { object.text("metadata", "namespace") ?? "default" }
    public var key: String { "\(kind)/\(namespace)/\(name)" }
    var podSpecPath: [String] { templatePath + ["spec"] }
    var podSpec: JSONValue { object[path: podSpecPath] ?? [:] }
    var containers: [JSONValue] { podSpec.list("containers") + podSpec.list("initContainers") }
    var isBarePod: Bool { kind == "Pod" }

    /// Windows pods cannot move: the Secret Store extension runs on Linux only.
    var isWindows: Bool {
        podSpec.text("nodeSelector", "kubernetes.io/os") == "windows"
            || podSpec[path: ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?.arrayValue?.contains { term in
                term.list("matchExpressions").contains { $0.text("key") == "kubernetes.io/os" && $0.list("values").contains(.string("windows")) }
            } == true
    }

    /// The pod's `secrets-store.csi.k8s.io` volumes.
    var csiVolumes: [JSONValue] { podSpec.list("volumes").filter { $0.text("csi", "driver") == "secrets-store.csi.k8s.io" } }

    var serviceAccount: String { podSpec.text("serviceAccountName") ?? podSpec.text("serviceAccount") ?? "default" }
}

extension JSONValue {
    var objectKey: String { "\(text("metadata", "namespace") ?? "")/\(text("metadata", "name") ?? "")" }

    /// The manifest as a user would keep it: no server-set metadata, no status.
    var stripped: JSONValue {
        var copy = self
        copy["status"] = nil
        for field in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"] {
            copy[path: ["metadata", field]] = nil
        }
        if copy[path: ["metadata", "annotations"]]?.objectValue?.isEmpty == true { copy[path: ["metadata", "annotations"]] = nil }
        return copy
    }
}
