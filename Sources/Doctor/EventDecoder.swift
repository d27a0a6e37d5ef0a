/// Turns a FailedMount (or SecretSync warning) message into the check that explains it and what to do.
enum EventDecoder {
    struct Explanation: Equatable {
        /// The check id above that covers it.
        var check: String
        var meaning: String
    }

    static let rules: [(needles: [String], check: String, meaning: String)] = [
        // The kinds of failure an akvs provider puts first (`failed to mount objects, error: [not found: 1] …`) decide,
        // except that Entra's own codes and the credential checks below say more than `[identity rejected]` or
        // `[invalid configuration]`.
        (["[throttled by Key Vault (429)"], "probe", "Key Vault throttled the node's requests (HTTP 429; the message says how long it asked to wait): kubelet retries the mount, fewer calls (a longer rotation interval, one class per app) prevent it"),
        (["[Key Vault unreachable", "[Entra ID unreachable"], "probe", "Key Vault or Entra ID could not be reached (network, DNS, firewall, private endpoint or an outage): kubelet retries; classes with akvs.io/serve-stale-on-outage mount the node's last good content meanwhile"),
        (["[forbidden"], "probe.access", "the identity has no read access on the vault (or a firewall rule of the vault refused it)"),
        (["[not found"], "probe.object", "an object does not exist in the vault (mark it optional: true if the pod can start without it)"),
        (["[disabled"], "probe.object", "an object or its version is disabled in the vault"),
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
        (["[identity rejected"], "identity", "Entra ID refused the identity (its AADSTS code is in the message)"),
        (["[invalid configuration"], "secretProviderClass.parameters", "the SecretProviderClass parameters are invalid"),
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

    /// The driver's Warnings that are not failures: the pod runs, on the last good content or without an optional object.
    static let degradedMountReasons: [String: String] = [
        "MountServedStale": "the pod runs on the node's last good content; the next republish replaces it once the vault answers",
        "OptionalObjectMissing": "the pod runs without the optional objects named; their files appear when the objects do",
        "MountRotationFailed": "the pod keeps its mounted files; rotation is retried at the next republish",
    ]

    /// kubelet's reasons for a volume that could not be set up.
    static let mountFailureReasons: Set<String> = ["FailedMount", "FailedAttachVolume", "FailedMapVolume"]

    /// Whether a pod's Warning is a failed mount of one of its secrets-store volumes (named in kubelet's message as
    /// `volume "NAME"` or in its `unmounted volumes=[...]` list), or names the driver.
    static func isSecretsStoreMountFailure(_ event: EventSummary, volumes: [String]) -> Bool {
        guard mountFailureReasons.contains(event.reason) else { return false }
        if event.message.contains("secrets-store.csi.k8s.io") { return true }
        return volumes.contains { volume in
            event.message.contains("volume \"\(volume)\"") || listed(volume, in: event.message, after: "unmounted volumes=[")
        }
    }

    static func listed(_ volume: String, in message: String, after marker: String) -> Bool {
        guard let start = message.range(of: marker), let end = message[start.upperBound...].firstIndex(of: "]") else { return false }
        return message[start.upperBound..<end].split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == volume }
    }

    /// Event messages are bounded so that one long event cannot drown the checklist.
    static func excerpt(_ message: String, limit: Int = 400) -> String {
        message.count <= limit ? message : String(message.prefix(limit)) + "…"
    }
}
