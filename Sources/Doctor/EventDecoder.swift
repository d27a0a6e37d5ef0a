/// Turns a FailedMount (or SecretSync warning) message into the check that explains it and what to do.
enum EventDecoder {
    struct Explanation: Equatable {
        /// The check id above that covers it.
        var check: String
        var meaning: String
    }

    static let rules: [(needles: [String], check: String, meaning: String)] = [
        (["secretProviderClass is not set"], "volume", "the volume has no secretProviderClass attribute"),
        (["failed to get secretproviderclass", "secretproviderclasses.secrets-store.csi.x-k8s.io"], "secretProviderClass", "the SecretProviderClass is missing from the pod's namespace"),
        (["not found in the list of registered CSI drivers", "driver name secrets-store.csi.k8s.io not found"], "node.csiNode", "the driver is not registered with kubelet on the node"),
        (["provider not found", "failed to connect to provider", "connection refused", "no such file or directory"], "node.provider", "the driver cannot reach the Azure provider's socket"),
        (["nodePublishSecretRef", "failed to get node publish secret", "could not find clientid", "could not find clientsecret"], "identity.credentials", "the service-principal credentials Secret is missing, unlabeled or incomplete"),
        (["AADSTS70021", "No matching federated identity"], "identity.federation", "the managed identity has no federated credential for this service account"),
        (["AADSTS90002"], "secretProviderClass.parameters", "tenantId names no tenant (wrong tenant)"),
        (["AADSTS700016"], "identity", "the client ID is not an application in the tenant"),
        (["AADSTS7000215"], "identity.credentials", "the client secret is wrong or expired"),
        (["token for audience", "no service account tokens", "serviceAccount.tokens"], "identity.tokenRequests", "kubelet passed no token for api://AzureADTokenExchange"),
        (["Disabled", "disabled"], "probe.object", "the object or its version is disabled in the vault"),
        (["NotFound", "404"], "probe.object", "the object does not exist in the vault"),
        (["Forbidden", "403"], "probe.access", "the identity has no read access on the vault"),
        (["objects[", "objectName", "objectType", "array:"], "secretProviderClass.parameters", "the objects list of the SecretProviderClass is invalid"),
    ]

    static func explain(_ message: String) -> Explanation? {
        for rule in rules where rule.needles.contains(where: { message.contains($0) }) {
            return Explanation(check: rule.check, meaning: rule.meaning)
        }
        return nil
    }

    /// Event messages are bounded so that one long event cannot drown the checklist.
    static func excerpt(_ message: String, limit: Int = 400) -> String {
        message.count <= limit ? message : String(message.prefix(limit)) + "…"
    }
}
