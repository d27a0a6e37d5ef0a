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
        guard let spc = volumeContext[Self.secretProviderClass], !spc.isEmpty else {
            throw .invalidRequest("secretProviderClass is not set: add volumeAttributes.secretProviderClass: <name> to the pod's csi volume")
        }
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

    /// `<pod>-<namespace>-<spc>`, the upstream SecretProviderClassPodStatus name.
    public var podStatusName: String { "\(name)-\(namespace)-\(secretProviderClass)" }
}
