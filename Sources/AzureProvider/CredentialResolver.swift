import AzureIdentity
import KeyVault

/// Picks the credential an SPC asks for, as the upstream provider does.
package struct CredentialResolver: Sendable {
    let transport: HTTPTransport
    let configuration: ProviderConfiguration

    func credential(for parameters: MountParameters, cloud: AzureCloud, secrets: [String: String]) throws(ProviderError) -> any TokenCredential {
        do {
            switch parameters.identity {
            case .managedIdentity(let clientID):
                return try ManagedIdentityCredential(clientID: clientID, endpoint: configuration.imdsEndpoint, transport: transport)
            case .workloadIdentity(let clientID):
                guard !parameters.serviceAccountTokens.isEmpty else {
                    throw ProviderError.identity("failed to parse workload identity tokens: no service account tokens were passed; add audience \(MountParameters.workloadAudience) to the CSIDriver's tokenRequests")
                }
                guard let token = parameters.serviceAccountTokens[MountParameters.workloadAudience] else {
                    throw ProviderError.identity("token for audience \(MountParameters.workloadAudience) not found; add it to the CSIDriver's tokenRequests")
                }
                return try ClientAssertionCredential(tenantID: parameters.tenantID, clientID: clientID, assertion: .token(token), cloud: cloud, transport: transport)
            case .servicePrincipal:
                let (id, secret) = try Self.servicePrincipal(secrets)
                return try ClientSecretCredential(tenantID: parameters.tenantID, clientID: id, clientSecret: secret, cloud: cloud, transport: transport)
            }
        } catch let error as ProviderError {
            throw error
        } catch let error as IdentityError {
            throw .identity(error.description)
        } catch {
            throw .identity("\(error)")
        }
    }

    /// The client id and secret of a nodePublishSecretRef Secret's data, with the upstream errors (also `akvs validate`,
    /// which passes the keys with empty values: only the keys are checked here).
    package static func servicePrincipal(_ secrets: [String: String]) throws(ProviderError) -> (clientID: String, clientSecret: String) {
        guard !secrets.isEmpty else {
            throw .identity("failed to get credentials, nodePublishSecretRef secret is not set; set clientID for workload identity, useVMManagedIdentity, or reference a Secret with clientid and clientsecret")
        }
        guard let id = lookup(secrets, "clientid") else { throw .identity("could not find clientid in secrets; the nodePublishSecretRef Secret needs a clientid key") }
        guard let secret = lookup(secrets, "clientsecret") else { throw .identity("could not find clientsecret in secrets; the nodePublishSecretRef Secret needs a clientsecret key") }
        return (id, secret)
    }

    /// Keys match case-insensitively, as upstream.
    private static func lookup(_ secrets: [String: String], _ key: String) -> String? {
        secrets.first { $0.key.lowercased() == key }?.value.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
