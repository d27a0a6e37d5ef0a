import AzureProvider
import SecretsStoreAPI
import SyncController

/// SecretSync and AKVSync as the sync controller reads them: `SecretDataBuilder` (every problem, not just the
/// first), `AKVSyncExpansion`, the provider's parameter checks on what an AKVSync generates, and the sourcePaths
/// of a SecretSync against its SecretProviderClass when the given files define it.
struct SyncRules {
    let manifest: Manifest
    let classes: [ClassInfo]
    /// The SecretSyncs of the given files, for what an AKVSync would generate over.
    var secretSyncs: [Manifest] = []
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
        // The controller never overwrites a class or SecretSync it did not generate (a generated one names its AKVSync).
        let name = manifest.name ?? ""
        // Each generated SecretSync is reported at the object that names it (kubernetesSecretName, or the vault name; `-vN` per version).
        func origin(_ secretName: String) -> String {
            let index = akv.spec.objects.firstIndex { object in
                let base = object.kubernetesSecretName ?? object.secretInAKV ?? object.certInAKV ?? ""
                return secretName == base || secretName.hasPrefix(base + "-v")
            }
            return index.map { "spec.objects[\($0)]" } ?? "spec.objects"
        }
        let generated = [("SecretProviderClass", expansion.secretProviderClass.metadata.name ?? "", classes.map(\.manifest), "metadata.name")]
            + expansion.secretSyncs.map { ("SecretSync", $0.metadata.name ?? "", secretSyncs, origin($0.metadata.name ?? "")) }
        for (kind, target, others, field) in generated {
            for other in others where other.name == target && other.namespace == manifest.namespace && !Self.generated(other, by: name) {
                report(field, "generates \(kind) \(target), which \(other.file) also defines; akvs never overwrites an object this AKVSync did not generate: rename or remove one of them")
            }
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

    /// Whether a manifest is the output of AKVSync `name` (owner reference), e.g. from `kubectl get -o yaml`.
    static func generated(_ other: Manifest, by name: String) -> Bool {
        (other.node["metadata"]?["ownerReferences"]?.sequence ?? []).contains { $0["kind"]?.text == "AKVSync" && $0["name"]?.text == name }
    }

    private mutating func report(_ field: String, _ message: String, _ severity: Diagnostic.Severity = .error) {
        findings.add(manifest.node.locate(field), manifest.frame, field, message, severity)
    }
}
