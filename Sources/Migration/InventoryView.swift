import Foundation

/// Stage 1's report: per namespace, each workload's volumes, identity and files; secretObjects and their consumers.
public enum InventoryView {
    public static func table(_ inventory: Inventory, bundle: String, written: Int) -> String {
        var lines = ["akvs migrate inventory (backup bundle: \(bundle), \(written) manifest\(written == 1 ? "" : "s") written; no secret value is in it)"]
        if let driver = inventory.driver {
            lines.append("driver \(driver.daemonSet): enableSecretRotation=\(driver.enableSecretRotation), rotationPollInterval=\(driver.rotationPollInterval), "
                         + "syncSecret.enabled=\(driver.syncSecret), kubeletRootDir=\(driver.kubeletRootDir ?? "?"), writeCertAndKeyInSeparateFiles=\(driver.writeCertAndKeyInSeparateFiles)")
        } else {
            lines.append("driver: no DaemonSet labelled app=secrets-store-csi-driver found")
        }
        let namespaces = Set(inventory.classes.map(\.namespace) + inventory.workloads.map(\.namespace)).sorted()
        for namespace in namespaces {
            lines.append("")
            lines.append("namespace \(namespace)")
            for entry in inventory.classes where entry.namespace == namespace {
                let objects = entry.objects.map { o in
                    var text = "\(o.type)/\(o.name)"
                    if let alias = o.alias { text += " as \(alias)" }
                    if o.versionHistory > 1 { text += " ×\(o.versionHistory) versions" }
                    if let mode = o.filePermission { text += " mode \(mode)" }
                    return text
                }
                lines.append("  SecretProviderClass \(entry.name): \(entry.identity)\(entry.clientID.map { " \($0)" } ?? ""), cloud \(entry.cloudName.isEmpty ? "AzurePublicCloud" : entry.cloudName); objects \(objects.joined(separator: ", "))")
                for secret in entry.secretObjects {
                    let consumers = secret.consumers.map { "\($0.workload) \($0.container.isEmpty ? "" : "[\($0.container)] ")\($0.how)" }
                    lines.append("    secretObjects → Secret \(secret.secretName) (\(secret.type), keys \(secret.keys.keys.sorted().joined(separator: ", "))), read by: \(consumers.isEmpty ? "nobody" : consumers.joined(separator: "; "))")
                }
                lines += entry.blockers.map { "    ✗ \($0)" }
            }
            for workload in inventory.workloads where workload.namespace == namespace {
                lines.append("  \(workload.kind) \(workload.name) (service account \(workload.serviceAccount)\(workload.windows ? ", Windows" : ""))")
                for pod in workload.pods { lines.append("    pod \(pod)") }
                for volume in workload.volumes {
                    let mounts = volume.mounts.map { "\($0.container):\($0.mountPath)\($0.subPath.map { " subPath \($0)" } ?? "")" }.joined(separator: ", ")
                    var credential = ""
                    if let ref = volume.nodePublishSecretRef { credential = ", nodePublishSecretRef \(ref)\(volume.clientid.map { " (clientid \($0))" } ?? "")" }
                    lines.append("    volume \(volume.name): SecretProviderClass \(volume.secretProviderClass), \(volume.identity)\(credential), mounted at \(mounts.isEmpty ? "(nowhere)" : mounts)")
                }
                lines += workload.warnings.map { "    ! \($0)" }
                lines += workload.blockers.map { "    ✗ \($0)" }
            }
        }
        let blockers = inventory.classes.flatMap(\.blockers).count + inventory.workloads.flatMap(\.blockers).count
        lines.append("")
        lines.append("\(inventory.classes.count) SecretProviderClass\(inventory.classes.count == 1 ? "" : "es"), \(inventory.workloads.count) workload\(inventory.workloads.count == 1 ? "" : "s"), "
                     + "\(inventory.credentialSecrets.count) credentials Secret\(inventory.credentialSecrets.count == 1 ? "" : "s"), \(blockers) blocker\(blockers == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }

    public static func json(_ inventory: Inventory) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(inventory)) ?? Data(), as: UTF8.self)
    }
}
