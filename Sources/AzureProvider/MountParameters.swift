import AzureIdentity
import Foundation
import KeyVault

/// The provider's view of one mount: SecretProviderClass parameters merged with pod attributes.
public struct MountParameters: Sendable, Equatable {
    public enum IdentityMode: Sendable, Equatable {
        case servicePrincipal
        case workloadIdentity(clientID: String)
        case managedIdentity(clientID: String?)
    }

    public var keyvaultName: String
    public var tenantID: String
    public var cloudName: String
    public var cloudEnvFileName: String?
    public var identity: IdentityMode
    public var objects: [KeyVaultObject]
    /// The pod (`csi.storage.k8s.io/pod.name`, `.namespace`); empty when the caller did not say, e.g. a sync controller.
    public var podName: String
    public var podNamespace: String
    /// Service-account tokens by audience (`csi.storage.k8s.io/serviceAccount.tokens`).
    public var serviceAccountTokens: [String: String]

    public static let workloadAudience = "api://AzureADTokenExchange"
    static let podNameKey = "csi.storage.k8s.io/pod.name"
    static let podNamespaceKey = "csi.storage.k8s.io/pod.namespace"
    static let tokensKey = "csi.storage.k8s.io/serviceAccount.tokens"

    /// Parses and validates mount attributes as the upstream Azure provider does, with clearer errors.
    public static func parse(_ attributes: [String: String]) throws(ProviderError) -> MountParameters {
        func value(_ key: String) -> String { trimmed(attributes, key) }
        let vault = try keyvaultName(attributes)
        let tenant = try tenantID(attributes)
        let identity = try identityMode(attributes)

        let objectsText = attributes["objects"] ?? ""
        guard !objectsText.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .parameter(name: "objects", reason: "objects is not set; list the secrets, keys and certificates to mount under 'array:'")
        }
        let objects = try KeyVaultObject.parseList(objectsText)

        // The pod is only needed by pod identity (refused above); the upstream sync controller sends an empty pod
        // name when SYNC_CONTROLLER_POD_NAME is unset, and the upstream provider accepts it. Used for logs only.
        let podName = value(podNameKey)
        let podNamespace = value(podNamespaceKey)

        return MountParameters(keyvaultName: vault, tenantID: tenant, cloudName: value("cloudName"),
                               cloudEnvFileName: value("cloudEnvFileName").isEmpty ? nil : value("cloudEnvFileName"),
                               identity: identity, objects: objects, podName: podName, podNamespace: podNamespace,
                               serviceAccountTokens: try tokens(attributes[tokensKey]))
    }

    static func trimmed(_ attributes: [String: String], _ key: String) -> String {
        attributes[key]?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// The `keyvaultName` parameter, checked as the provider checks it (also used by `akvs validate`).
    package static func keyvaultName(_ attributes: [String: String]) throws(ProviderError) -> String {
        let vault = trimmed(attributes, "keyvaultName")
        guard !vault.isEmpty else { throw .parameter(name: "keyvaultName", reason: "is not set; set it to the vault's name (the first label of https://NAME.vault.azure.net)") }
        do { try KeyVaultValidation.vaultName(vault) } catch { throw .parameter(name: "keyvaultName", reason: "'\(vault)' is not a vault name: 3-24 letters, digits and '-', starting with a letter") }
        return vault
    }

    /// `tenantID` (which wins, as upstream) or `tenantId`.
    package static func tenantID(_ attributes: [String: String]) throws(ProviderError) -> String {
        let tenant = trimmed(attributes, "tenantID").isEmpty ? trimmed(attributes, "tenantId") : trimmed(attributes, "tenantID")
        guard !tenant.isEmpty else { throw .parameter(name: "tenantId", reason: "is not set; set it to the directory (tenant) ID of the vault") }
        do { try IdentityValidation.tenantID(tenant) } catch { throw .parameter(name: "tenantId", reason: error.description) }
        return tenant
    }

    /// The identity mode the parameters select, in the upstream order; refuses what akvs does not support.
    package static func identityMode(_ attributes: [String: String]) throws(ProviderError) -> IdentityMode {
        let podIdentity = try bool(attributes, "usePodIdentity")
        let vmIdentity = try bool(attributes, "useVMManagedIdentity")
        let tokenProxy = try bool(attributes, "useAzureTokenProxy")
        let enabled = [("usePodIdentity", podIdentity), ("useVMManagedIdentity", vmIdentity), ("useAzureTokenProxy", tokenProxy)].filter(\.1).map(\.0)
        if enabled.count > 1 {
            throw .parameter(name: enabled.joined(separator: ", "), reason: "only one identity mode can be enabled at a time: set all but one to false")
        }
        if podIdentity {
            throw .parameter(name: "usePodIdentity", reason: "aad-pod-identity is deprecated and not supported by akvs; use workload identity (clientID plus a federated service account) or useVMManagedIdentity")
        }
        if tokenProxy {
            throw .parameter(name: "useAzureTokenProxy", reason: "identity binding through the AKS token proxy is not supported yet; use workload identity (clientID) instead")
        }
        let clientID = trimmed(attributes, "clientID")
        if vmIdentity {
            let uami = trimmed(attributes, "userAssignedIdentityID")
            if !uami.isEmpty {
                do { try IdentityValidation.clientID(uami, field: "userAssignedIdentityID") } catch { throw .parameter(name: "userAssignedIdentityID", reason: error.description) }
            }
            return .managedIdentity(clientID: uami.isEmpty ? nil : uami)
        } else if !clientID.isEmpty {
            do { try IdentityValidation.clientID(clientID) } catch { throw .parameter(name: "clientID", reason: error.description) }
            return .workloadIdentity(clientID: clientID)
        }
        return .servicePrincipal
    }

    /// Checks `cloudName` without reading `cloudEnvFileName`, which is a path on the node (what can be known offline).
    package static func checkCloudName(_ attributes: [String: String]) throws(ProviderError) {
        let name = trimmed(attributes, "cloudName")
        if name.lowercased() == "azurestackcloud", !trimmed(attributes, "cloudEnvFileName").isEmpty { return }
        do { _ = try AzureCloud.named(name, environmentFile: nil) } catch {
            throw .parameter(name: error == .missingEnvironmentFile ? "cloudEnvFileName" : "cloudName", reason: error.description)
        }
    }

    /// Go `strconv.ParseBool` semantics; empty is false.
    package static func bool(_ attributes: [String: String], _ key: String) throws(ProviderError) -> Bool {
        let raw = attributes[key]?.trimmingCharacters(in: .whitespaces) ?? ""
        switch raw {
        case "": return false
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: throw .parameter(name: key, reason: "'\(raw)' is not a boolean; use \"true\" or \"false\"")
        }
    }

    /// Decodes `{"<audience>": {"token": "…", "expirationTimestamp": "…"}}`.
    static func tokens(_ raw: String?) throws(ProviderError) -> [String: String] {
        guard let raw, !raw.trimmingCharacters(in: .whitespaces).isEmpty else { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any] else {
            throw .parameter(name: tokensKey, reason: "failed to parse workload identity tokens: expected a JSON object of audience to {token, expirationTimestamp}")
        }
        var result: [String: String] = [:]
        for (audience, entry) in object {
            guard let token = (entry as? [String: Any])?["token"] as? String else {
                throw .parameter(name: tokensKey, reason: "failed to parse workload identity tokens: audience '\(audience)' has no token")
            }
            result[audience] = token
        }
        return result
    }
}
