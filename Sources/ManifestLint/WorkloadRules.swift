import AzureProvider
import CSIDriver
import Yams

/// The `secrets-store.csi.k8s.io` volumes of a pod or a workload's pod template, as the CSI driver and the
/// provider's credential selection read them.
struct WorkloadRules {
    static let driverName = "secrets-store.csi.k8s.io"
    /// Where each kind keeps its pod spec.
    static let podSpecPaths = ["Pod": "spec", "Deployment": "spec.template.spec", "StatefulSet": "spec.template.spec",
                               "DaemonSet": "spec.template.spec", "ReplicaSet": "spec.template.spec", "Job": "spec.template.spec",
                               "CronJob": "spec.jobTemplate.spec.template.spec", "ReplicationController": "spec.template.spec"]
    static let groups = ["Pod": "", "Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps", "Job": "batch", "CronJob": "batch",
                         "ReplicationController": ""]

    let manifest: Manifest
    let classes: [ClassInfo]
    /// Secrets of the given files: the keys of their data (never the values).
    let secrets: [(manifest: Manifest, keys: Set<String>)]
    let forSync: Bool
    var findings: Findings

    mutating func check() {
        guard let path = Self.podSpecPaths[manifest.kind], let spec = walk(path) else { return }
        var mountsSecretsStore = false
        for (index, volume) in (spec["volumes"]?.sequence ?? []).enumerated() {
            guard let csi = volume["csi"], csi["driver"]?.text == Self.driverName else { continue }
            mountsSecretsStore = true
            checkVolume(csi, field: "\(path).volumes[\(index)].csi")
        }
        guard forSync, mountsSecretsStore else { return }
        var selector: [String: String] = [:]
        for (key, value) in spec["nodeSelector"]?.mapping ?? [:] { if let k = key.text, let v = value.text { selector[k] = v } }
        if let problem = SecretStoreExtensionRules.nodeSelectorProblem(selector) {
            report("\(path).nodeSelector.kubernetes.io/os", problem)
        }
    }

    private mutating func checkVolume(_ csi: Node, field: String) {
        if forSync {
            report(field, "the Secret Store extension does not mount CSI volumes: mount the Secret a SecretSync writes instead (akvs migrate workloads rewrites this volume)", .warning)
        }
        var attributes: [String: String] = [:]
        for (key, value) in csi["volumeAttributes"]?.mapping ?? [:] {
            guard let name = key.text else { continue }
            guard case .scalar = value, SchemaValidator.kind(of: value) == "string" else {
                report("\(field).volumeAttributes.\(name)", "must be a string (volume attributes are strings): quote it")
                continue
            }
            attributes[name] = value.text ?? ""
        }
        do { try PodVolume.requireReadOnly(csi["readOnly"]?.bool ?? false) } catch { report("\(field).readOnly", "\(error)") }
        let className: String
        do { className = try PodVolume.secretProviderClassName(in: attributes) } catch {
            report("\(field).volumeAttributes.secretProviderClass", "\(error)")
            return
        }
        let classField = "\(field).volumeAttributes.secretProviderClass"
        guard let spc = classes.first(where: { $0.manifest.name == className && $0.manifest.visible(from: manifest.namespace) }) else {
            let elsewhere = classes.first { $0.manifest.name == className }
            report(classField, elsewhere.map { "SecretProviderClass \(className) is defined in namespace \($0.manifest.namespace ?? "") of the given files, but a pod can only use a class of its own namespace (\(manifest.namespace ?? "")); it must exist there in the cluster" }
                   ?? "SecretProviderClass \(className) is not defined in the given files; it must exist in the cluster in the pod's namespace", .warning)
            return
        }
        // A service-principal class reads clientid/clientsecret from the volume's nodePublishSecretRef.
        guard spc.provider == "azure", spc.identity == .servicePrincipal else { return }
        let refField = "\(field).nodePublishSecretRef"
        guard let secretName = csi["nodePublishSecretRef"]?["name"]?.text, !secretName.isEmpty else {
            do { _ = try CredentialResolver.servicePrincipal([:]) } catch { report(refField, "\(error) (SecretProviderClass \(spc.manifest.label) uses a service principal)") }
            return
        }
        guard let secret = secrets.first(where: { $0.manifest.name == secretName && $0.manifest.visible(from: manifest.namespace) }) else { return }
        // Only the keys are looked at: the values stay unread.
        let keys = Dictionary(uniqueKeysWithValues: secret.keys.map { ($0, "") })
        do { _ = try CredentialResolver.servicePrincipal(keys) } catch {
            report("\(refField).name", "\(error) (Secret \(secret.manifest.label) has keys: \(secret.keys.sorted().joined(separator: ", ")))")
        }
    }

    private func walk(_ path: String) -> Node? {
        var node: Node? = manifest.node
        for part in path.split(separator: ".") { node = node?[String(part)] }
        return node?.mapping != nil ? node : nil
    }

    private mutating func report(_ field: String, _ message: String, _ severity: Diagnostic.Severity = .error) {
        findings.add(manifest.node.locate(field), manifest.frame, field, message, severity)
    }
}
