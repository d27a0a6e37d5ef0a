import AzureProvider
import Foundation
import KeyVault
import Kubernetes
import StructuredJSON

/// `--probe`: with the identity the pod or SecretSync uses, get a token and read each object as the provider
/// would, keeping only versions and error codes (values are discarded unread), so that wrong tenant, missing
/// federation, missing access and missing or disabled objects are told apart.
public struct VaultProbe: Sendable {
    let provider: AzureProvider
    let client: KubernetesClient

    /// `session` carries the trust store (e.g. `--ca-file` for a private cloud or the emulator).
    public init(session: KeyVaultSession, client: KubernetesClient) {
        self.provider = AzureProvider(session: session, configuration: ProviderConfiguration(objectCacheTTL: .zero))
        self.client = client
    }

    /// One line per object, or one line for the identity when no token could be had.
    func run(parameters: MountParameters, attributes: [String: String], secrets: [String: String],
             serviceAccount: (namespace: String, name: String)?, audience: String = "api://AzureADTokenExchange", only: Set<String>?) async -> [Check] {
        var attributes = attributes
        if case .managedIdentity = parameters.identity {
            return [.warning("probe.identity", "probe", "a VM managed identity gets its token from the node's IMDS, which this machine cannot reach as the node; run `akvs mount` on the node to probe it")]
        }
        if let serviceAccount {
            do {
                let token = try await client.requestToken(serviceAccount: serviceAccount.name, namespace: serviceAccount.namespace, audiences: [audience], expirationSeconds: 600)
                let tokens: JSONValue = [audience: ["token": .string(token.token), "expirationTimestamp": .string(token.expirationTimestamp)]]
                attributes["csi.storage.k8s.io/serviceAccount.tokens"] = String(decoding: tokens.encoded(), as: UTF8.self)
            } catch {
                return [.failure("probe.token", "TokenRequest for \(serviceAccount.namespace)/\(serviceAccount.name)", "\(error)",
                                 fix: "the probe needs create on serviceaccounts/token in \(serviceAccount.namespace) for your kubeconfig's user")]
            }
        }
        let vault = parameters.keyvaultName
        let partial: PartialMount
        do {
            partial = try await provider.fetchEach(attributes: attributes, secrets: secrets, only: only, maxAge: .zero)
        } catch {
            let issuer = serviceAccount == nil ? nil : (try? await client.document("/.well-known/openid-configuration"))?["issuer"]?.stringValue
            return [Self.identityFailure(error.description, parameters: parameters, serviceAccount: serviceAccount, issuer: issuer)]
        }
        var checks: [Check] = []
        var versions: [String: [String]] = [:]
        for entry in partial.entries { versions[entry.version.id, default: []].append(entry.version.version) }
        for (id, list) in versions.sorted(by: { $0.key < $1.key }) {
            checks.append(.ok("probe.object", "vault \(vault) \(id)", "readable with this identity (version \(Set(list).sorted().joined(separator: ", ")); value not shown)"))
        }
        for failure in partial.failures {
            checks.append(Self.objectFailure(failure.failure, vault: vault, parameters: parameters))
        }
        return checks
    }

    static func identityFailure(_ message: String, parameters: MountParameters, serviceAccount: (namespace: String, name: String)?, issuer: String? = nil) -> Check {
        let subject = "probe: token for \(ClassChecks.identityName(parameters.identity))"
        if message.contains("AADSTS90002") {
            return .failure("probe.tenant", subject, "wrong tenant: \(message)",
                            fix: "set tenantId in the SecretProviderClass to the vault's directory: az keyvault show --name \(parameters.keyvaultName) --query properties.tenantId -o tsv")
        }
        if message.contains("AADSTS70021") {
            let sa = serviceAccount.map { "system:serviceaccount:\($0.namespace):\($0.name)" } ?? "system:serviceaccount:<namespace>:<name>"
            return .failure("identity.federation", subject, "not federated: \(message)",
                            fix: "az identity federated-credential create --name akvs-\(serviceAccount?.namespace ?? "ns")-\(serviceAccount?.name ?? "sa") --identity-name <identity> --resource-group <group> "
                                + "--issuer \(issuer ?? "\"$(kubectl get --raw /.well-known/openid-configuration | jq -r .issuer)\"") --subject \(sa) --audience api://AzureADTokenExchange")
        }
        if message.contains("AADSTS700016") {
            return .failure("probe.client", subject, "unknown client ID: \(message)", fix: "set clientID (or the Secret's clientid) to the application (client) ID of an identity in tenant \(parameters.tenantID)")
        }
        if message.contains("AADSTS7000215") {
            return .failure("identity.credentials", subject, "wrong client secret: \(message)", fix: "create a new client secret (az ad app credential reset --id <app id>) and update the nodePublishSecretRef Secret's clientsecret")
        }
        return .failure("probe.token", subject, message, fix: "fix the identity named above; the error is Entra's own")
    }

    static func objectFailure(_ failure: ObjectFailure, vault: String, parameters: MountParameters) -> Check {
        let subject = "vault \(vault) \(failure.type)/\(failure.name)"
        let reason = failure.reason
        let cli = failure.type == "cert" ? "certificate" : failure.type
        if reason.contains("Disabled") || reason.contains("disabled") {
            return .failure("probe.object", subject, "disabled: \(reason)",
                            fix: "enable it: az keyvault \(cli) set-attributes --vault-name \(vault) --name \(failure.name)\(failure.version.isEmpty ? "" : " --version \(failure.version)") --enabled true")
        }
        if reason.contains("HTTP 404") || reason.contains("NotFound") {
            return .failure("probe.object", subject, "missing: \(reason)",
                            fix: "check objectName/objectType/objectVersion: az keyvault \(cli) show --vault-name \(vault) --name \(failure.name)")
        }
        if reason.contains("HTTP 403") || reason.contains("Forbidden") {
            let assignee: String
            switch parameters.identity {
            case .workloadIdentity(let id): assignee = id
            case .managedIdentity(let id): assignee = id ?? "<the node's identity>"
            case .servicePrincipal: assignee = "<clientid>"
            }
            let role = failure.type == "secret" ? "Key Vault Secrets User" : failure.type == "key" ? "Key Vault Crypto User" : "Key Vault Certificate User"
            return .failure("probe.access", subject, "no access: \(reason)",
                            fix: "az role assignment create --role \"\(role)\" --assignee \(assignee) --scope \"$(az keyvault show --name \(vault) --query id -o tsv)\"")
        }
        return .failure("probe.object", subject, reason, fix: failure.transient ? "the vault is unavailable or throttling; try again" : "see the Key Vault error code above")
    }
}
