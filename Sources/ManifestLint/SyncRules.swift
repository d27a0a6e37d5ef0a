import AzureProvider
import SecretsStoreAPI
import SyncController

/// SecretSync and AKVSync as the sync controller reads them: `SecretDataBuilder` (every problem, not just the
/// first), `AKVSyncExpansion`, the provider's parameter checks on what an AKVSync generates, and the sourcePaths
/// of a SecretSync against its SecretProviderClass when the given files define it.
struct SyncRules {
    let manifest: Manifest
    let classes: [ClassInfo]
    var findings: Findings

    mutating func checkSecretSync() {
        guard let sync = manifest.decode(SecretSync.self) else { return }
        for problem in SecretDataBuilder.problems(sync) {
            let field = problem.field ?? "spec"
            report(field, withoutField(problem.message, field))
        }
        let name = sync.spec.secretProviderClassName
        guard let spc = classes.first(where: { $0.manifest.name == name && $0.manifest.visible(from: manifest.namespace) }) else {
            report("spec.secretProviderClassName",
                   "SecretProviderClass \(name) is not defined in the given files; it must exist in the cluster in namespace \(manifest.namespace ?? "of this SecretSync")",
                   .warning)
            return
        }
        guard let files = spc.filePaths else { return }
        for (index, item) in sync.spec.secretObject.data.enumerated() where !item.sourcePath.isEmpty && !files.contains(item.sourcePath) {
            report("spec.secretObject.data[\(index)].sourcePath",
                   "'\(item.sourcePath)' is not a file of SecretProviderClass \(spc.manifest.label) (files: \(files.joined(separator: ", "))); use an objectAlias or objectName, or name/N with objectVersionHistory")
        }
    }

    mutating func checkAKVSync() {
        guard let akv = manifest.decode(AKVSync.self) else { return }
        let expansion: AKVSyncExpansion
        do { expansion = try AKVSyncExpansion.expand(akv) } catch {
            let field = error.field ?? "spec.objects"
            report(field, withoutField(error.message, field))
            return
        }
        // The generated class must pass the provider's checks; its parameters come from these spec fields.
        let parameters = expansion.secretProviderClass.spec.parameters ?? [:]
        let origin = ["keyvaultName": "spec.keyvaultName", "tenantId": "spec.tenantID", "clientID": "spec.clientID"]
        func parameter(_ error: ProviderError) {
            guard case .parameter(let name, let reason) = error else { return }
            report(origin[name] ?? "spec", reason)
        }
        do { _ = try MountParameters.keyvaultName(parameters) } catch { parameter(error) }
        do { _ = try MountParameters.tenantID(parameters) } catch { parameter(error) }
        do { _ = try MountParameters.identityMode(parameters) } catch { parameter(error) }
    }

    private mutating func report(_ field: String, _ message: String, _ severity: Diagnostic.Severity = .error) {
        findings.add(manifest.node.locate(field), manifest.frame, field, message, severity)
    }
}
