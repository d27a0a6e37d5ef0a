import Foundation
import SecretsStoreAPI
import StructuredJSON

/// `v1` Secret.
public struct Secret: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: "", version: "v1", kind: "Secret", plural: "secrets")
    public var apiVersion = "v1"
    public var kind = "Secret"
    public var metadata: ObjectMeta
    public var type: String?
    /// Values are raw bytes (base64 on the wire).
    public var data: [String: Data]?
    public var immutable: Bool?

    public init(metadata: ObjectMeta, type: String? = "Opaque", data: [String: Data]? = nil) {
        self.metadata = metadata; self.type = type; self.data = data
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        type = try c.decodeIfPresent(String.self, forKey: .type)
        data = try c.decodeIfPresent([String: Data].self, forKey: .data)
        immutable = try c.decodeIfPresent(Bool.self, forKey: .immutable)
    }
}

/// `v1` ConfigMap.
public struct ConfigMap: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps")
    public var apiVersion = "v1"
    public var kind = "ConfigMap"
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public init(metadata: ObjectMeta, data: [String: String]? = nil) { self.metadata = metadata; self.data = data }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        data = try c.decodeIfPresent([String: String].self, forKey: .data)
    }
}

/// `v1` Namespace.
public struct Namespace: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false)
    public var apiVersion = "v1"
    public var kind = "Namespace"
    public var metadata: ObjectMeta
    public init(name: String, labels: [String: String]? = nil) { metadata = ObjectMeta(name: name, labels: labels) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
    }
}

/// `v1` ServiceAccount.
public struct ServiceAccount: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts")
    public var apiVersion = "v1"
    public var kind = "ServiceAccount"
    public var metadata: ObjectMeta
    public init(metadata: ObjectMeta) { self.metadata = metadata }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
    }
}

/// `v1` Pod: the fields akvs reads.
public struct Pod: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: "", version: "v1", kind: "Pod", plural: "pods")
    public var apiVersion = "v1"
    public var kind = "Pod"
    public var metadata: ObjectMeta
    public var spec: Spec?
    public struct Spec: Codable, Sendable, Equatable {
        public var nodeName: String?
        public var serviceAccountName: String?
        public var containers: [JSONValue]?
        public var volumes: [JSONValue]?
        public init(nodeName: String? = nil, serviceAccountName: String? = nil, containers: [JSONValue]? = nil, volumes: [JSONValue]? = nil) {
            self.nodeName = nodeName; self.serviceAccountName = serviceAccountName; self.containers = containers; self.volumes = volumes
        }
    }
    public init(metadata: ObjectMeta, spec: Spec? = nil) { self.metadata = metadata; self.spec = spec }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec)
    }
}

/// A `v1` Pod's metadata only: what a cache of many pods keeps (labels, annotations, owners), without their specs.
public struct PodMetadata: APIObject, Equatable {
    public static let resourceKind = Pod.resourceKind
    public var apiVersion = "v1"
    public var kind = "Pod"
    public var metadata: ObjectMeta
    public init(metadata: ObjectMeta) { self.metadata = metadata }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
    }
}

/// `coordination.k8s.io/v1` Lease, for leader election.
public struct Lease: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases")
    public var apiVersion = "coordination.k8s.io/v1"
    public var kind = "Lease"
    public var metadata: ObjectMeta
    public var spec: Spec?
    public struct Spec: Codable, Sendable, Equatable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int?
        public init(holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: String? = nil, renewTime: String? = nil, leaseTransitions: Int? = nil) {
            self.holderIdentity = holderIdentity; self.leaseDurationSeconds = leaseDurationSeconds; self.acquireTime = acquireTime
            self.renewTime = renewTime; self.leaseTransitions = leaseTransitions
        }
    }
    public init(metadata: ObjectMeta, spec: Spec? = nil) { self.metadata = metadata; self.spec = spec }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec)
    }
}

/// `events.k8s.io/v1` Event.
public struct Event: APIObject, Equatable {
    public static let resourceKind = ResourceKind(group: "events.k8s.io", version: "v1", kind: "Event", plural: "events")
    public var apiVersion = "events.k8s.io/v1"
    public var kind = "Event"
    public var metadata: ObjectMeta
    public var eventTime: String?
    public var series: Series?
    public var reportingController: String?
    public var reportingInstance: String?
    public var action: String?
    public var reason: String?
    public var regarding: ObjectReference?
    public var note: String?
    /// `Normal` or `Warning`.
    public var type: String?

    public struct Series: Codable, Sendable, Equatable {
        public var count: Int
        public var lastObservedTime: String
    }
}

extension Event {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (apiVersion, kind) = try c.typeMeta(Self.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        eventTime = try c.decodeIfPresent(String.self, forKey: .eventTime)
        series = try c.decodeIfPresent(Series.self, forKey: .series)
        reportingController = try c.decodeIfPresent(String.self, forKey: .reportingController)
        reportingInstance = try c.decodeIfPresent(String.self, forKey: .reportingInstance)
        action = try c.decodeIfPresent(String.self, forKey: .action)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        regarding = try c.decodeIfPresent(ObjectReference.self, forKey: .regarding)
        note = try c.decodeIfPresent(String.self, forKey: .note)
        type = try c.decodeIfPresent(String.self, forKey: .type)
    }
}

extension KeyedDecodingContainer {
    /// `apiVersion` and `kind`, defaulting to the type's own: kube-apiserver leaves both out of the items of a
    /// built-in kind's list.
    func typeMeta<T: APIObject>(_ type: T.Type) throws -> (apiVersion: String, kind: String) {
        func value(_ name: String, _ fallback: String) throws -> String {
            guard let key = Key(stringValue: name) else { return fallback }
            let text = try decodeIfPresent(String.self, forKey: key) ?? ""
            return text.isEmpty ? fallback : text
        }
        return (try value("apiVersion", T.resourceKind.apiVersion), try value("kind", T.resourceKind.kind))
    }
}

/// `v1` ObjectReference.
public struct ObjectReference: Codable, Sendable, Equatable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil, uid: String? = nil, resourceVersion: String? = nil) {
        self.apiVersion = apiVersion; self.kind = kind; self.name = name; self.namespace = namespace; self.uid = uid; self.resourceVersion = resourceVersion
    }

    /// A reference to a typed object.
    public init<T: APIObject>(_ object: T) {
        self.init(apiVersion: T.resourceKind.apiVersion, kind: T.resourceKind.kind, name: object.metadata.name,
                  namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion)
    }
}

/// A service-account token from the TokenRequest API.
public struct ServiceAccountToken: Codable, Sendable, Equatable {
    public var token: String
    /// RFC 3339.
    public var expirationTimestamp: String
}

/// One page of a list.
public struct ObjectList<T: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [T]
    public struct ListMeta: Decodable, Sendable {
        public var resourceVersion: String?
        public var `continue`: String?
        public var remainingItemCount: Int?
    }
}
