import AzureProvider
import StructuredJSON

/// The SecretProviderClass behind a volume or SecretSync: found, for the Azure provider, with valid parameters.
enum ClassChecks {
    /// Finds the SPC in `namespace`; when it is missing there, says where it does exist.
    static func find(_ view: ClusterView, name: String, namespace: String, usedBy: String) async throws(DoctorError) -> (spc: JSONValue?, check: Check) {
        let subject = "SecretProviderClass \(namespace)/\(name)"
        if let spc = try await view.get(Kinds.spc, name, namespace: namespace) {
            return (spc, .ok("secretProviderClass", subject, "found, provider \(spc.text("spec", "provider") ?? "(none)")"))
        }
        let elsewhere = try await view.list(Kinds.spc).filter { $0.text("metadata", "name") == name }.compactMap { $0.text("metadata", "namespace") }
        if !elsewhere.isEmpty {
            return (nil, .failure("secretProviderClass", subject, "not found in \(namespace); a SecretProviderClass named \(name) exists in \(elsewhere.joined(separator: ", ")), but it must be in the same namespace as \(usedBy)",
                                  fix: "kubectl get secretproviderclass \(name) -n \(elsewhere[0]) -o yaml | sed 's/namespace: \(elsewhere[0])/namespace: \(namespace)/' | kubectl apply -f -"))
        }
        return (nil, .failure("secretProviderClass", subject, "not found",
                              fix: "create it in namespace \(namespace) (kubectl apply -n \(namespace) -f <secretproviderclass.yaml>), or correct the name \(usedBy) refers to"))
    }

    /// The provider field and the Azure parameters, through the provider's own parser.
    static func parameters(_ spc: JSONValue) -> (parameters: MountParameters?, attributes: [String: String], checks: [Check]) {
        let name = spc.objectName
        let provider = spc.text("spec", "provider") ?? ""
        let attributes = (spc["spec"]?["parameters"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        if provider.isEmpty {
            return (nil, attributes, [.failure("secretProviderClass.provider", "SecretProviderClass \(name) spec.provider", "is empty",
                                               fix: "set spec.provider: azure")])
        }
        guard provider == "azure" else {
            return (nil, attributes, [.warning("secretProviderClass.provider", "SecretProviderClass \(name) spec.provider",
                                               "'\(provider)': not the Azure provider, so its parameters are not checked here")])
        }
        do {
            let parsed = try MountParameters.parse(attributes)
            let objects = parsed.objects.map { "\($0.objectType.rawValue)/\($0.objectName)" }
            return (parsed, attributes, [.ok("secretProviderClass.parameters", "SecretProviderClass \(name) parameters",
                                             "valid: vault \(parsed.keyvaultName), tenant \(parsed.tenantID), \(objects.count) object\(objects.count == 1 ? "" : "s") (\(objects.joined(separator: ", ")))")])
        } catch {
            return (nil, attributes, [.failure("secretProviderClass.parameters", "SecretProviderClass \(name) parameters", error.description,
                                               fix: "edit it: kubectl edit secretproviderclass -n \(spc.text("metadata", "namespace") ?? "") \(spc.text("metadata", "name") ?? "") (\(error.description))")])
        }
    }

    static func identityName(_ mode: MountParameters.IdentityMode) -> String {
        switch mode {
        case .servicePrincipal: return "service principal (nodePublishSecretRef)"
        case .workloadIdentity(let id): return "workload identity (clientID \(id))"
        case .managedIdentity(let id): return id.map { "user-assigned managed identity \($0)" } ?? "system-assigned VM managed identity"
        }
    }
}
