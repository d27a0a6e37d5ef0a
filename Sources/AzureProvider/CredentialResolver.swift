import AzureIdentity
import KeyVault

/// Picks the credential an SPC asks for, as the upstream provider does.
struct CredentialResolver: Sendable {
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
                guard !secrets.isEmpty else {
                    throw ProviderError.identity("failed to get credentials, nodePublishSecretRef secret is not set; set clientID for workload identity, useVMManagedIdentity, or reference a Secret with clientid and clientsecret")
                }
                guard let id = lookup(secrets, "clientid") else { throw ProviderError.identity("could not find clientid in secrets; the nodePublishSecretRef Secret needs a clientid key") }
                guard let secret = lookup(secrets, "clientsecret") else { throw ProviderError.identity("could not find clientsecret in secrets; the nodePublishSecretRef Secret needs a clientsecret key") }
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

    /// Keys match case-insensitively, as upstream.
    private func lookup(_ secrets: [String: String], _ key: String) -> String? {
        secrets.first { $0.key.lowercased() == key }?.value.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
