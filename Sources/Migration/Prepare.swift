import Foundation
import Kubernetes
import StructuredJSON

/// Stage 2: what the cluster must have before the move (issuer, version, one service account per consuming
/// namespace), and the Azure commands only the user can run (federated credentials, role assignments).
public struct Preparation: Sendable {
    /// Entra allows 20 federated credentials per identity.
    public static let federatedCredentialLimit = 20

    public struct Facts: Sendable {
        public var issuer: String?
        public var version: String?
        public var minor: Int?
        public init(issuer: String? = nil, version: String? = nil, minor: Int? = nil) { self.issuer = issuer; self.version = version; self.minor = minor }
    }

    let translation: Translation

    public init(translation: Translation) { self.translation = translation }

    /// The apiserver's issuer and version (live mode).
    public static func facts(_ client: KubernetesClient) async -> Facts {
        let issuer = try? await client.document("/.well-known/openid-configuration")["issuer"]?.stringValue
        let version = try? await client.document("/version")
        return Facts(issuer: issuer, version: version?["gitVersion"]?.stringValue, minor: version?["minor"]?.stringValue.flatMap { Int($0.filter(\.isNumber)) })
    }

    func subject0(_ members: ArraySlice<(namespace: String, account: String)>) -> String {
        Set(members.map(\.namespace)).sorted().joined(separator: ", ")
    }

    public func changes(facts: Facts) -> [Change] {
        var changes: [Change] = []
        if let minor = facts.minor {
            changes.append(minor >= 27
                ? Change("prepare", "", "cluster", .unchanged, "Kubernetes \(facts.version ?? "1.\(minor)") (≥ 1.27)")
                : Change("prepare", "", "cluster", .blocked, "Kubernetes \(facts.version ?? "1.\(minor)") is older than 1.27, which the Secret Store extension needs; upgrade the cluster first"))
        }
        let issuer = facts.issuer ?? "$(az aks show -n <cluster> -g <group> --query oidcIssuerProfile.issuerUrl -o tsv)"
        if facts.issuer == nil {
            changes.append(Change("prepare", "", "cluster", .note, "the service-account issuer is not readable here; on AKS enable it with az aks update --enable-oidc-issuer --enable-workload-identity"))
        } else {
            changes.append(Change("prepare", "", "cluster", .unchanged, "service-account issuer \(issuer)"))
        }
        // One subject per (namespace, service account) that SecretSyncs will use, per client ID.
        var subjects: [String: [(namespace: String, account: String)]] = [:]
        var vaults: [String: Set<String>] = [:]
        for entry in translation.inventory.classes where translation.moves(entry) {
            guard let clientID = translation.clientID(for: entry) else { continue }
            let account = translation.serviceAccount(for: entry)
            if !(subjects[clientID] ?? []).contains(where: { $0.namespace == entry.namespace && $0.account == account }) {
                subjects[clientID, default: []].append((entry.namespace, account))
            }
            if let spc = translation.snapshot.spc(entry.name, namespace: entry.namespace), let vault = spc.text("spec", "parameters", "keyvaultName") {
                vaults[clientID, default: []].insert(vault)
            }
            let exists = translation.snapshot.serviceAccounts.contains { $0.text("metadata", "name") == account && $0.text("metadata", "namespace") == entry.namespace }
            let subject = "ServiceAccount/\(account)"
            if !exists, !changes.contains(where: { $0.namespace == entry.namespace && $0.subject == subject }) {
                let body: JSONValue = ["apiVersion": "v1", "kind": "ServiceAccount",
                                       "metadata": ["name": .string(account), "namespace": .string(entry.namespace),
                                                    "annotations": ["azure.workload.identity/client-id": .string(clientID)],
                                                    "labels": [Translation.migratedLabel: "prepare"]]]
                changes.append(Change("prepare", entry.namespace, subject, .create, "the identity SecretSyncs in \(entry.namespace) use (client ID \(clientID))", object: body))
            }
        }
        for (clientID, list) in subjects.sorted(by: { $0.key < $1.key }) {
            for (chunk, group) in stride(from: 0, to: list.count, by: Self.federatedCredentialLimit).enumerated() {
                let members = list[group..<min(group + Self.federatedCredentialLimit, list.count)]
                let identity = chunk == 0 ? "<identity of \(clientID)>" : "<identity #\(chunk + 1): \(clientID) holds \(Self.federatedCredentialLimit) federated credentials at most; use this identity's client ID for \(subject0(members)) in --client-id-map>"
                for subject in members {
                    changes.append(Change("prepare", subject.namespace, "Azure", .note,
                                          "az identity federated-credential create --name akvs-\(subject.namespace)-\(subject.account) --identity-name \(identity) --resource-group <group> "
                                              + "--issuer \(issuer) --subject system:serviceaccount:\(subject.namespace):\(subject.account) --audience api://AzureADTokenExchange"))
                }
            }
            for vault in (vaults[clientID] ?? []).sorted() {
                changes.append(Change("prepare", "", "Azure", .note,
                                      "az role assignment create --role \"Key Vault Secrets User\" --assignee \(clientID) --scope \"$(az keyvault show --name \(vault) --query id -o tsv)\" (add \"Key Vault Certificate User\" for certificates)"))
            }
        }
        return changes
    }
}
