/// `secret-sync.x-k8s.io/v1alpha1` SecretSync: provider objects synced into the Secret of the same name.
public struct SecretSync: APIObject, Equatable {
    public static let group = "secret-sync.x-k8s.io"
    public static let resourceKind = ResourceKind(group: group, version: "v1alpha1", kind: "SecretSync", plural: "secretsyncs")
    /// Label (empty value) on every Secret the controller manages; reserved in spec labels and annotations.
    public static let managedLabel = "secrets-store.sync.x-k8s.io"

    public var apiVersion: String = resourceKind.apiVersion
    public var kind: String = resourceKind.kind
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public struct Spec: Codable, Sendable, Equatable {
        public var secretSyncControllerName: String?
        public var secretProviderClassName: String
        public var serviceAccountName: String
        public var secretObject: SecretObject
        public var forceSynchronization: String?
        public init(secretProviderClassName: String, serviceAccountName: String, secretObject: SecretObject,
                    forceSynchronization: String? = nil, secretSyncControllerName: String? = nil) {
            self.secretProviderClassName = secretProviderClassName; self.serviceAccountName = serviceAccountName
            self.secretObject = secretObject; self.forceSynchronization = forceSynchronization
            self.secretSyncControllerName = secretSyncControllerName
        }
    }

    /// The Secret to write: type, data mapping, labels and annotations.
    public struct SecretObject: Codable, Sendable, Equatable {
        public var type: String?
        public var data: [DataItem]
        public var labels: [String: String]?
        public var annotations: [String: String]?
        public init(type: String? = nil, data: [DataItem], labels: [String: String]? = nil, annotations: [String: String]? = nil) {
            self.type = type; self.data = data; self.labels = labels; self.annotations = annotations
        }
    }

    /// `sourcePath` is a file path of the provider's response (object name or alias, `name/N` for history).
    public struct DataItem: Codable, Sendable, Equatable {
        public var sourcePath: String
        public var targetKey: String
        public init(sourcePath: String, targetKey: String) { self.sourcePath = sourcePath; self.targetKey = targetKey }
    }

    public struct Status: Codable, Sendable, Equatable {
        public var syncHash: String?
        public var lastSuccessfulSyncTime: String?
        public var conditions: [Condition]?
        public init(syncHash: String? = nil, lastSuccessfulSyncTime: String? = nil, conditions: [Condition]? = nil) {
            self.syncHash = syncHash; self.lastSuccessfulSyncTime = lastSuccessfulSyncTime; self.conditions = conditions
        }
    }

    public init(metadata: ObjectMeta, spec: Spec, status: Status? = nil) { self.metadata = metadata; self.spec = spec; self.status = status }
}
