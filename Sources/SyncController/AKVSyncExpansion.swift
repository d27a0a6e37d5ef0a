import SecretsStoreAPI

/// What one AKVSync implies: a SecretProviderClass with every referenced object, and SecretSyncs
/// (keys `v0`, `v1`, … by version; `tls.crt`/`tls.key` for TLS certificates, one Secret per version
/// when versionHistory > 1; compound Secrets from `mapping`).
public struct AKVSyncExpansion: Sendable, Equatable {
    public var secretProviderClass: SecretProviderClass
    public var secretSyncs: [SecretSync]

    /// Label on everything generated, naming the AKVSync.
    public static let generatedByLabel = "akvs.io/generated-by-akvsync"

    public static func expand(_ akv: AKVSync) throws(SyncFailure) -> AKVSyncExpansion {
        let namespace = akv.metadata.namespace
        let name = akv.metadata.name ?? ""
        let owner = OwnerReference(apiVersion: AKVSync.resourceKind.apiVersion, kind: "AKVSync", name: name, uid: akv.metadata.uid ?? "",
                                   controller: true, blockOwnerDeletion: true)
        func meta(_ objectName: String) -> ObjectMeta {
            ObjectMeta(name: objectName, namespace: namespace, labels: [generatedByLabel: name], ownerReferences: [owner])
        }
        // Objects in the SPC: (name, history) by file name; a cert is fetched as a secret (key + chain PEM).
        var objects: [String: Int] = [:]
        func need(_ objectName: String, history: Int) { objects[objectName] = max(objects[objectName] ?? 1, history) }
        var syncs: [SecretSync] = []
        func sync(_ secretName: String, type: String, items: [(String, String)], labels: [String: String]?, annotations: [String: String]?) {
            syncs.append(SecretSync(metadata: meta(secretName), spec: .init(
                secretProviderClassName: name, serviceAccountName: akv.spec.serviceAccountName,
                secretObject: .init(type: type, data: items.map { .init(sourcePath: $0.0, targetKey: $0.1) }, labels: labels, annotations: annotations))))
        }
        for (i, object) in akv.spec.objects.enumerated() {
            let field = "spec.objects[\(i)]"
            let chosen = [object.secretInAKV != nil, object.certInAKV != nil, object.mapping != nil].filter { $0 }.count
            guard chosen == 1 else {
                throw SyncFailure(.userInputValidationFailed, "AKVSync \(namespace ?? "")/\(name) \(field): set exactly one of secretInAKV, certInAKV or mapping", field: field)
            }
            let type = object.kubernetesSecretType ?? "Opaque"
            let history = object.versionHistory ?? 1
            guard history >= 1 else { throw SyncFailure(.userInputValidationFailed, "AKVSync \(name) \(field).versionHistory must be at least 1", field: "\(field).versionHistory") }
            func path(_ objectName: String, _ version: Int, history: Int) -> String { history > 1 ? "\(objectName)/\(version)" : objectName }
            if let mapping = object.mapping {
                guard let secretName = object.kubernetesSecretName else {
                    throw SyncFailure(.userInputValidationFailed, "AKVSync \(name) \(field): mapping needs kubernetesSecretName", field: "\(field).kubernetesSecretName")
                }
                var items: [(String, String)] = []
                for (j, entry) in mapping.enumerated() {
                    guard let source = entry.secretInAKV ?? entry.certInAKV, (entry.secretInAKV == nil) != (entry.certInAKV == nil) else {
                        throw SyncFailure(.userInputValidationFailed, "AKVSync \(name) \(field).mapping[\(j)]: set exactly one of secretInAKV or certInAKV", field: "\(field).mapping[\(j)]")
                    }
                    let version = entry.version ?? 0
                    need(source, history: version + 1)
                    items.append((version == 0 && (objects[source] ?? 1) == 1 ? source : "\(source)/\(version)", entry.dataKey))
                }
                sync(secretName, type: type, items: items, labels: object.labels, annotations: object.annotations)
            } else if let secret = object.secretInAKV {
                need(secret, history: history)
                sync(object.kubernetesSecretName ?? secret, type: type, items: (0..<history).map { (path(secret, $0, history: history), "v\($0)") },
                     labels: object.labels, annotations: object.annotations)
            } else if let cert = object.certInAKV {
                need(cert, history: history)
                let secretName = object.kubernetesSecretName ?? cert
                if type == "kubernetes.io/tls" {
                    for v in 0..<history {
                        let source = path(cert, v, history: history)
                        sync(history > 1 ? "\(secretName)-v\(v)" : secretName, type: type, items: [(source, "tls.crt"), (source, "tls.key")],
                             labels: object.labels, annotations: object.annotations)
                    }
                } else {
                    sync(secretName, type: type, items: (0..<history).map { (path(cert, $0, history: history), "v\($0)") }, labels: object.labels, annotations: object.annotations)
                }
            }
        }
        // Paths were chosen before every object's final history was known: fix up single-version paths of objects
        // that another entry needs with history.
        for index in syncs.indices {
            syncs[index].spec.secretObject.data = syncs[index].spec.secretObject.data.map { item in
                let parts = item.sourcePath.split(separator: "/")
                let object = String(parts[0])
                if parts.count == 1, (objects[object] ?? 1) > 1 { return .init(sourcePath: "\(object)/0", targetKey: item.targetKey) }
                return item
            }
        }
        var names = Set<String>()
        for s in syncs where !names.insert(s.metadata.name ?? "").inserted {
            throw SyncFailure(.userInputValidationFailed, "AKVSync \(name) generates two Secrets named \(s.metadata.name ?? ""): set distinct kubernetesSecretName values", field: "spec.objects")
        }
        let list = objects.keys.sorted().map { objectName -> String in
            var lines = "  - |\n    objectName: \(objectName)\n    objectType: secret\n"
            if let h = objects[objectName], h > 1 { lines += "    objectVersionHistory: \(h)\n" }
            return lines
        }.joined()
        let spc = SecretProviderClass(metadata: meta(name), spec: .init(provider: "azure", parameters: [
            "keyvaultName": akv.spec.keyvaultName, "tenantId": akv.spec.tenantID, "clientID": akv.spec.clientID, "objects": "array:\n" + list,
        ]))
        return AKVSyncExpansion(secretProviderClass: spc, secretSyncs: syncs)
    }
}
