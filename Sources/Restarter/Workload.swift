import Kubernetes
import SecretsStoreAPI
import StructuredJSON

/// The three kinds of workload a restart applies to, as `kubectl rollout restart` knows them.
public enum WorkloadKind: String, Sendable, CaseIterable, Comparable {
    case deployment = "Deployment", statefulSet = "StatefulSet", daemonSet = "DaemonSet"

    public var resourceKind: ResourceKind {
        switch self {
        case .deployment: ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments")
        case .statefulSet: ResourceKind(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets")
        case .daemonSet: ResourceKind(group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets")
        }
    }

    public static func < (a: WorkloadKind, b: WorkloadKind) -> Bool { a.rawValue < b.rawValue }
}

/// What the restarter reads of a Deployment, StatefulSet or DaemonSet: its annotations, its pod template's references
/// and annotations, whether it is paused, and how far its rollout has got.
public struct WorkloadBody: Sendable, Equatable {
    public var replicas: Int?
    public var paused: Bool
    public var templateAnnotations: [String: String]
    public var references: References
    public var status: JSONValue?

    /// The Secrets and SecretProviderClasses a pod template uses.
    public struct References: Sendable, Equatable {
        public var secrets: Set<String> = []
        public var classes: Set<String> = []
        public init(secrets: Set<String> = [], classes: Set<String> = []) { self.secrets = secrets; self.classes = classes }
    }

    init(spec: JSONValue?, status: JSONValue?) {
        replicas = spec?["replicas"]?.int
        paused = spec?["paused"]?.boolValue ?? false
        let template = spec?["template"]
        templateAnnotations = (template?[path: ["metadata", "annotations"]]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        references = Self.references(template?["spec"])
        self.status = status
    }

    /// Every Secret named by env `secretKeyRef`, `envFrom` `secretRef`, `secret` and projected volumes (init and
    /// ephemeral containers too), and every SecretProviderClass of a secrets-store CSI volume.
    public static func references(_ pod: JSONValue?) -> References {
        var found = References()
        let containers = ["initContainers", "containers", "ephemeralContainers"].flatMap { pod?[$0]?.arrayValue ?? [] }
        for container in containers {
            for env in container["env"]?.arrayValue ?? [] {
                if let name = env[path: ["valueFrom", "secretKeyRef", "name"]]?.stringValue { found.secrets.insert(name) }
            }
            for source in container["envFrom"]?.arrayValue ?? [] {
                if let name = source[path: ["secretRef", "name"]]?.stringValue { found.secrets.insert(name) }
            }
        }
        for volume in pod?["volumes"]?.arrayValue ?? [] {
            if let name = volume[path: ["secret", "secretName"]]?.stringValue { found.secrets.insert(name) }
            for source in volume[path: ["projected", "sources"]]?.arrayValue ?? [] {
                if let name = source[path: ["secret", "name"]]?.stringValue { found.secrets.insert(name) }
            }
            if volume[path: ["csi", "driver"]]?.stringValue == "secrets-store.csi.k8s.io",
               let name = volume[path: ["csi", "volumeAttributes", "secretProviderClass"]]?.stringValue {
                found.classes.insert(name)
            }
        }
        return found
    }

    /// Whether a rollout the workload's controller has not finished is under way (no status: nothing known, not).
    public func rolloutInProgress(kind: WorkloadKind, generation: Int64?) -> Bool {
        guard let status else { return false }
        func int(_ key: String) -> Int? { status[key]?.int }
        if let observed = status["observedGeneration"]?.int, let generation, Int64(observed) < generation { return true }
        let wanted = replicas ?? 1
        switch kind {
        case .deployment:
            guard let updated = int("updatedReplicas") else { return false }
            return updated < wanted || (int("replicas") ?? 0) > updated || (int("availableReplicas") ?? updated) < updated
        case .statefulSet:
            if let current = status["currentRevision"]?.stringValue, let update = status["updateRevision"]?.stringValue, current != update { return true }
            return (int("readyReplicas") ?? wanted) < wanted
        case .daemonSet:
            guard let desired = int("desiredNumberScheduled") else { return false }
            return (int("updatedNumberScheduled") ?? desired) < desired || (int("numberAvailable") ?? desired) < desired
        }
    }
}

/// A Deployment, StatefulSet or DaemonSet as the restarter caches it.
public protocol Workload: APIObject, Equatable {
    static var workloadKind: WorkloadKind { get }
    var body: WorkloadBody { get }
}

/// Decoding shared by the three kinds: metadata, then only the fields `WorkloadBody` reads.
struct WorkloadFields: Decodable {
    var metadata: ObjectMeta
    var spec: JSONValue?
    var status: JSONValue?
}

/// A workload kind as a type, so that each kind has its own typed informer.
public protocol WorkloadKindTag: Sendable {
    static var workloadKind: WorkloadKind { get }
}

public enum DeploymentKind: WorkloadKindTag { public static var workloadKind: WorkloadKind { .deployment } }
public enum StatefulSetKind: WorkloadKindTag { public static var workloadKind: WorkloadKind { .statefulSet } }
public enum DaemonSetKind: WorkloadKindTag { public static var workloadKind: WorkloadKind { .daemonSet } }

/// A Deployment, StatefulSet or DaemonSet (by `Kind`) as the restarter caches it.
public struct KindedWorkload<Kind: WorkloadKindTag>: Workload {
    public static var workloadKind: WorkloadKind { Kind.workloadKind }
    public static var resourceKind: ResourceKind { workloadKind.resourceKind }
    public var metadata: ObjectMeta
    public var body: WorkloadBody
    public init(from decoder: any Decoder) throws {
        let fields = try WorkloadFields(from: decoder)
        metadata = fields.metadata
        body = WorkloadBody(spec: fields.spec, status: fields.status)
    }
    public func encode(to encoder: any Encoder) throws { try WorkloadEncoding.encode(self, to: encoder) }
}

public typealias DeploymentWorkload = KindedWorkload<DeploymentKind>
public typealias StatefulSetWorkload = KindedWorkload<StatefulSetKind>
public typealias DaemonSetWorkload = KindedWorkload<DaemonSetKind>

enum WorkloadEncoding {
    enum Keys: String, CodingKey { case apiVersion, kind, metadata }
    static func encode<W: Workload>(_ workload: W, to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(W.resourceKind.apiVersion, forKey: .apiVersion)
        try c.encode(W.resourceKind.kind, forKey: .kind)
        try c.encode(workload.metadata, forKey: .metadata)
    }
}

extension JSONValue {
    /// A JSON number as a whole number (counts, generations).
    var int: Int? { numberValue.flatMap { $0.isFinite && abs($0) < 1e15 ? Int($0) : nil } }
}
