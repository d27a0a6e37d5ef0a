import Foundation
import Yams

/// `secrets-store.csi.x-k8s.io/v1` SecretProviderClass: which provider, its parameters, and optional Secret sync.
public struct SecretProviderClass: APIObject, Equatable {
    public static let group = "secrets-store.csi.x-k8s.io"
    public static let resourceKind = ResourceKind(group: group, version: "v1", kind: "SecretProviderClass", plural: "secretproviderclasses")
    public static let servedVersions = ["v1", "v1alpha1"]

    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec

    public struct Spec: Codable, Sendable, Equatable {
        public var provider: String?
        public var parameters: [String: String]?
        public var secretObjects: [SecretObject]?
        public init(provider: String? = nil, parameters: [String: String]? = nil, secretObjects: [SecretObject]? = nil) {
            self.provider = provider; self.parameters = parameters; self.secretObjects = secretObjects
        }
    }

    /// A Kubernetes Secret to create from mounted objects.
    public struct SecretObject: Codable, Sendable, Equatable {
        public var secretName: String?
        public var type: String?
        public var labels: [String: String]?
        public var annotations: [String: String]?
        public var data: [DataItem]?
        public init(secretName: String? = nil, type: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil, data: [DataItem]? = nil) {
            self.secretName = secretName; self.type = type; self.labels = labels; self.annotations = annotations; self.data = data
        }
    }

    public struct DataItem: Codable, Sendable, Equatable {
        public var objectName: String?
        public var key: String?
        public init(objectName: String? = nil, key: String? = nil) { self.objectName = objectName; self.key = key }
    }

    public init(metadata: ObjectMeta, spec: Spec) {
        self.apiVersion = "\(Self.group)/v1"; self.kind = "SecretProviderClass"; self.metadata = metadata; self.spec = spec
    }

    /// Parses one SecretProviderClass manifest (YAML or JSON); errors name the field and the fix.
    public static func parse(yaml text: String, source: String) throws(ManifestError) -> SecretProviderClass {
        let spc: SecretProviderClass
        do {
            spc = try YAMLDecoder().decode(SecretProviderClass.self, from: text)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .invalid(source: source, field: (context.codingPath + [key]).map(\.stringValue).joined(separator: "."), reason: "is required")
        } catch let DecodingError.typeMismatch(type, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let hint = field.hasPrefix("spec.parameters") ? " (parameter values must be strings: quote numbers and booleans, e.g. \"true\")" : ""
            throw .invalid(source: source, field: field, reason: "expected \(type)\(hint)")
        } catch {
            throw .invalid(source: source, field: "(document)", reason: "not a valid manifest: \(error)")
        }
        guard spc.kind == "SecretProviderClass" else {
            throw .invalid(source: source, field: "kind", reason: "is '\(spc.kind)'; expected SecretProviderClass")
        }
        let parts = spc.apiVersion.split(separator: "/")
        guard parts.count == 2, parts[0] == Substring(group), servedVersions.contains(String(parts[1])) else {
            throw .invalid(source: source, field: "apiVersion", reason: "is '\(spc.apiVersion)'; use \(group)/v1")
        }
        guard let name = spc.metadata.name, !name.isEmpty else {
            throw .invalid(source: source, field: "metadata.name", reason: "is required")
        }
        return spc
    }
}

/// A manifest that cannot be used as given.
public enum ManifestError: Error, CustomStringConvertible, Equatable {
    case invalid(source: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let source, let field, let reason): return "\(source): \(field) \(reason)"
        }
    }
}
