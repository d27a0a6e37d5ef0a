import AzureProvider

/// What Azure's Secret Store extension refuses, checked with `akvs validate --for sync` (and reusable by the
/// migration): it syncs with workload identity only, in the public cloud only, on Linux nodes only.
public enum SecretStoreExtensionRules {
    /// Legacy identity parameters the extension does not support.
    public static let legacyIdentityParameters = ["usePodIdentity", "useVMManagedIdentity"]
    /// Clouds the extension is not available in.
    public static let unsupportedClouds = ["azureusgovernmentcloud": "AzureUSGovernmentCloud", "azureusgovernment": "AzureUSGovernmentCloud",
                                           "azurechinacloud": "AzureChinaCloud"]

    /// The parameter (key of `spec.parameters`) and the reason for each thing the extension refuses in a class.
    public static func classProblems(_ parameters: [String: String]) -> [(parameter: String, reason: String)] {
        var problems: [(String, String)] = []
        for key in legacyIdentityParameters where parameters[key] != nil && ((try? MountParameters.bool(parameters, key)) ?? true) {
            problems.append((key, "the Secret Store extension supports workload identity only: remove \(key) and set clientID to a managed identity federated with the SecretSync's service account"))
        }
        if (parameters["clientID"] ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            problems.append(("clientID", "is not set: the Secret Store extension syncs with workload identity only; set clientID to the client ID of a managed identity federated with the SecretSync's service account"))
        }
        let cloud = (parameters["cloudName"] ?? "").trimmingCharacters(in: .whitespaces)
        if let name = unsupportedClouds[cloud.lowercased()] {
            problems.append(("cloudName", "\(name) is not supported by the Secret Store extension (public cloud only); keep this class on the CSI driver"))
        }
        return problems
    }

    /// Why a pod spec's node selector keeps it off the extension (Windows nodes), or nil.
    public static func nodeSelectorProblem(_ nodeSelector: [String: String]) -> String? {
        guard nodeSelector["kubernetes.io/os"]?.lowercased() == "windows" else { return nil }
        return "Windows workloads are not supported by the Secret Store extension (Linux nodes only); keep this workload on the CSI driver"
    }
}
