import AzureProvider
import StructuredJSON

/// `translate --style akvsync`: one AKVSync per SecretProviderClass where it can express the same Secrets;
/// every target it cannot express stays a SecretSync, with the reason.
extension Translation {
    /// A Secret to produce: its name, type and (key, SPC file) pairs.
    struct Target {
        var name: String
        var type: String
        var items: [(sourcePath: String, targetKey: String)]
        var why: String
    }

    func targets(_ entry: Inventory.ClassEntry) -> [Target] {
        var list = entry.secretObjects.map { object in
            Target(name: object.secretName, type: object.type, items: object.keys.sorted { $0.key < $1.key }.map { (sourcePath: $0.value, targetKey: $0.key) },
                   why: "secretObjects \(object.secretName) (\(object.type)): same name, type and keys")
        }
        if let files = filesSecretName(entry) {
            list.append(Target(name: files, type: "Opaque", items: entry.files.map { (sourcePath: $0.sourcePath, targetKey: $0.key) },
                               why: "the files of volumes using \(entry.name)"))
        }
        return list
    }

    /// Why a target cannot be an AKVSync object; nil when it can.
    func akvSyncProblem(_ target: Target, objects: [KeyVaultObject], namespace: String) -> String? {
        if target.type != "Opaque" { return "type \(target.type): AKVSync mappings make Opaque Secrets" }
        if let secret = snapshot.secret(target.name, namespace: namespace), !secret.list("metadata", "ownerReferences").contains(where: { $0.text("kind") == "SecretSync" }) {
            return "Secret \(target.name) exists and is handed over to a SecretSync of the same name (an AKVSync's SecretSyncs come later)"
        }
        for item in target.items {
            let file = String(item.sourcePath.split(separator: "/").first ?? "")
            guard let object = objects.first(where: { $0.fileName == file }) else { return "\(item.sourcePath) is not an object of the SecretProviderClass" }
            if object.objectType != .secret { return "\(object.objectName) is objectType \(object.objectType.rawValue): AKVSync maps secrets only" }
            if object.objectFormat != .pem || object.objectEncoding != .utf8 { return "\(object.objectName) sets objectFormat/objectEncoding, which AKVSync has no field for" }
            if !object.objectVersion.isEmpty { return "\(object.objectName) pins objectVersion, which AKVSync cannot" }
        }
        return nil
    }

    func akvSyncChanges(_ entry: Inventory.ClassEntry, account: String) -> [Change] {
        guard let spc = snapshot.spc(entry.name, namespace: entry.namespace),
              let objects = try? KeyVaultObject.parseList(spc.text("spec", "parameters", "objects") ?? "") else { return [] }
        var changes: [Change] = []
        var expressed: [JSONValue] = []
        var names: [String] = []
        for target in targets(entry) {
            if let problem = akvSyncProblem(target, objects: objects, namespace: entry.namespace) {
                changes.append(Change("translate", entry.namespace, "AKVSync/\(entry.name)", .note, "\(target.name) cannot be expressed as AKVSync (\(problem)); emitted as a SecretSync"))
                changes += sync(name: target.name, entry: entry, account: account, type: target.type, items: target.items, why: target.why)
                continue
            }
            let mapping: [JSONValue] = target.items.map { item in
                let parts = item.sourcePath.split(separator: "/").map(String.init)
                let object = objects.first { $0.fileName == parts[0] }!
                var entry: JSONValue = ["dataKey": .string(item.targetKey), "secretInAKV": .string(object.objectName)]
                if parts.count > 1, let version = Int(parts[1]) { entry["version"] = .number(Double(version)) }
                return entry
            }
            expressed.append(["kubernetesSecretName": .string(target.name), "mapping": .array(mapping)])
            names.append(target.name)
        }
        guard !expressed.isEmpty else { return changes }
        let parameters = spc[path: ["spec", "parameters"]]
        let body: JSONValue = [
            "apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "AKVSync",
            "metadata": ["name": .string(entry.name), "namespace": .string(entry.namespace), "labels": [Self.migratedLabel: .string(entry.name)]],
            "spec": ["keyvaultName": parameters?["keyvaultName"] ?? "", "tenantID": parameters?["tenantId"] ?? parameters?["tenantID"] ?? "",
                     "clientID": .string(clientID(for: entry) ?? ""), "serviceAccountName": .string(account), "objects": .array(expressed)],
        ]
        if snapshot.akvSyncs.contains(where: { $0.objectKey == "\(entry.namespace)/\(entry.name)" && $0["spec"] == body["spec"] }) {
            changes.append(Change("translate", entry.namespace, "AKVSync/\(entry.name)", .unchanged, "exists with the same spec"))
        } else {
            changes.append(Change("translate", entry.namespace, "AKVSync/\(entry.name)", .create, "Secrets \(names.joined(separator: ", ")) from vault objects directly; service account \(account)", object: body))
        }
        return changes
    }
}
