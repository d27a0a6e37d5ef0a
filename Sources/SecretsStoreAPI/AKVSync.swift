/// `secret-sync.x-k8s.io/v1alpha1` AKVSync (Azure Secret Store extension preview): one resource from which the
/// controller generates the SecretProviderClass and SecretSyncs.
public struct AKVSync: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: SecretSync.group, version: "v1alpha1", kind: "AKVSync", plural: "akvsyncs")

    public var apiVersion: String = resourceKind.apiVersion
    public var kind: String = resourceKind.kind
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public struct Spec: Codable, Sendable, Equatable {
        public var keyvaultName: String
        public var clientID: String
        public var tenantID: String
        public var serviceAccountName: String
        public var objects: [Object]
        public init(keyvaultName: String, clientID: String, tenantID: String, serviceAccountName: String, objects: [Object]) {
            self.keyvaultName = keyvaultName; self.clientID = clientID; self.tenantID = tenantID
            self.serviceAccountName = serviceAccountName; self.objects = objects
        }
    }

    /// Exactly one of `secretInAKV`, `certInAKV` or `mapping` (compound Secret).
    public struct Object: Codable, Sendable, Equatable {
        public var secretInAKV: String?
        public var certInAKV: String?
        public var mapping: [MappingEntry]?
        public var kubernetesSecretName: String?
        public var kubernetesSecretType: String?
        public var labels: [String: String]?
        public var annotations: [String: String]?
        /// Absent means 1 (only the latest version, key `v0`).
        public var versionHistory: Int?
        public init(secretInAKV: String? = nil, certInAKV: String? = nil, mapping: [MappingEntry]? = nil, kubernetesSecretName: String? = nil,
                    kubernetesSecretType: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil, versionHistory: Int? = nil) {
            self.secretInAKV = secretInAKV; self.certInAKV = certInAKV; self.mapping = mapping; self.kubernetesSecretName = kubernetesSecretName
            self.kubernetesSecretType = kubernetesSecretType; self.labels = labels; self.annotations = annotations; self.versionHistory = versionHistory
        }
    }

    /// One key of a compound Secret; `version` 0 is the latest.
    public struct MappingEntry: Codable, Sendable, Equatable {
        public var dataKey: String
        public var secretInAKV: String?
        public var certInAKV: String?
        public var version: Int?
        public init(dataKey: String, secretInAKV: String? = nil, certInAKV: String? = nil, version: Int? = nil) {
            self.dataKey = dataKey; self.secretInAKV = secretInAKV; self.certInAKV = certInAKV; self.version = version
        }
    }

    public struct Status: Codable, Sendable, Equatable {
        public var observedGeneration: Int64?
        public var secretProviderClassName: String?
        public var generatedSecretSyncs: [String]?
        public var conditions: [Condition]?
        public init(observedGeneration: Int64? = nil, secretProviderClassName: String? = nil, generatedSecretSyncs: [String]? = nil, conditions: [Condition]? = nil) {
            self.observedGeneration = observedGeneration; self.secretProviderClassName = secretProviderClassName
            self.generatedSecretSyncs = generatedSecretSyncs; self.conditions = conditions
        }
    }

    public init(metadata: ObjectMeta, spec: Spec, status: Status? = nil) { self.metadata = metadata; self.spec = spec; self.status = status }
}
