/// `secrets-store.csi.x-k8s.io/v1` SecretProviderClassPodStatus: what the driver mounted for one pod volume.
/// Upstream names it `<pod>-<namespace>-<spc>` and labels it with the node; it has no spec.
public struct SecretProviderClassPodStatus: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: SecretProviderClass.group, version: "v1", kind: "SecretProviderClassPodStatus",
                                                  plural: "secretproviderclasspodstatuses")
    /// The label the driver's cache filters on.
    public static let nodeNameLabel = "internal.secrets-store.csi.k8s.io/node-name"

    public var apiVersion: String = resourceKind.apiVersion
    public var kind: String = resourceKind.kind
    public var metadata: ObjectMeta
    public var status: Status?

    public struct Status: Codable, Sendable, Equatable {
        public var podName: String?
        public var secretProviderClassName: String?
        public var mounted: Bool?
        public var targetPath: String?
        public var objects: [ObjectVersion]?
        public init(podName: String? = nil, secretProviderClassName: String? = nil, mounted: Bool? = nil, targetPath: String? = nil, objects: [ObjectVersion]? = nil) {
            self.podName = podName; self.secretProviderClassName = secretProviderClassName; self.mounted = mounted
            self.targetPath = targetPath; self.objects = objects
        }
    }

    /// One mounted object and its version (provider-defined ids, e.g. `secret/db-password`).
    public struct ObjectVersion: Codable, Sendable, Equatable {
        public var id: String
        public var version: String
        public init(id: String, version: String) { self.id = id; self.version = version }
    }

    public init(metadata: ObjectMeta, status: Status? = nil) { self.metadata = metadata; self.status = status }
}
