import SecretsStoreAPI

/// The pod a volume belongs to, from the attributes kubelet adds (`podInfoOnMount: true`).
public struct PodVolume: Sendable, Equatable {
    public static let podName = "csi.storage.k8s.io/pod.name"
    public static let podNamespace = "csi.storage.k8s.io/pod.namespace"
    public static let podUID = "csi.storage.k8s.io/pod.uid"
    public static let serviceAccountName = "csi.storage.k8s.io/serviceAccount.name"
    public static let serviceAccountTokens = "csi.storage.k8s.io/serviceAccount.tokens"
    public static let secretProviderClass = "secretProviderClass"

    public var name: String
    public var namespace: String
    public var uid: String
    public var serviceAccount: String?
    /// The SecretProviderClass named by the volume's `secretProviderClass` attribute.
    public var secretProviderClass: String

    /// Reads the pod attributes; errors name the missing key.
    public init(volumeContext: [String: String]) throws(PublishError) {
        let spc = try Self.secretProviderClassName(in: volumeContext)
        func required(_ key: String) throws(PublishError) -> String {
            guard let value = volumeContext[key], !value.isEmpty else { throw .missingAttribute(key) }
            return value
        }
        name = try required(Self.podName)
        namespace = try required(Self.podNamespace)
        uid = try required(Self.podUID)
        serviceAccount = volumeContext[Self.serviceAccountName]
        secretProviderClass = spc
    }

    /// The `secretProviderClass` volume attribute, which every secrets-store volume needs.
    public static func secretProviderClassName(in volumeAttributes: [String: String]) throws(PublishError) -> String {
        guard let spc = volumeAttributes[secretProviderClass], !spc.isEmpty else {
            throw .invalidRequest("secretProviderClass is not set: add volumeAttributes.secretProviderClass: <name> to the pod's csi volume")
        }
        return spc
    }

    /// The driver only mounts read-only volumes (kubelet passes the pod volume's `csi.readOnly`).
    public static func requireReadOnly(_ readOnly: Bool) throws(PublishError) {
        guard readOnly else { throw .invalidRequest("Readonly is not true in request; set readOnly: true on the pod's csi volume") }
    }

    /// The provider and parameters of a SecretProviderClass the driver can mount, or why it cannot.
    public static func usableClass(_ spc: SecretProviderClass, namespace: String, name: String) throws(PublishError) -> (provider: String, parameters: [String: String]) {
        let provider = spc.spec.provider ?? ""
        guard !provider.isEmpty else {
            throw .spcInvalid(namespace: namespace, name: name, reason: "spec.provider is empty; set it to the provider's name, e.g. azure")
        }
        guard let parameters = spc.spec.parameters, !parameters.isEmpty else {
            throw .spcInvalid(namespace: namespace, name: name, reason: "parameters not set in \(namespace)/\(name); add spec.parameters for the \(provider) provider")
        }
        return (provider, parameters)
    }

    /// `<pod>-<namespace>-<spc>`, the upstream SecretProviderClassPodStatus name.
    public var podStatusName: String { "\(name)-\(namespace)-\(secretProviderClass)" }
}
