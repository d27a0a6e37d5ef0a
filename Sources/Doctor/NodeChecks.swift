import StructuredJSON

extension Doctor {
    /// The pod's node: CSINode lists the driver; the driver (and provider) pods there are Running and Ready.
    func nodeChecks(node: String?, installs: [DriverInstall]) async throws(DoctorError) -> [Check] {
        guard let node, !node.isEmpty else {
            return [.warning("node", "node", "the pod is not scheduled yet, so no node to check")]
        }
        var checks: [Check] = []
        let csiNode = try await view.get(Kinds.csiNode, node)
        let registered = csiNode?.list("spec", "drivers").contains { $0.text("name") == Names.driver } ?? false
        if registered {
            checks.append(.ok("node.csiNode", "CSINode \(node)", "lists \(Names.driver)"))
        } else {
            checks.append(.failure("node.csiNode", "CSINode \(node)", "\(Names.driver) is not registered with kubelet on this node",
                                   fix: "check the driver pod on \(node) (below) and its registration: kubectl logs -n \(installs.first?.namespace ?? "kube-system") -l \(Names.driverLabel) -c secrets-store | grep -i registration; the kubelet root dir must match linux.kubeletRootDir"))
        }
        guard let install = installs.first else {
            checks.append(.failure("node.driver", "driver DaemonSet", "none found (label \(Names.driverLabel))",
                                   fix: "helm upgrade --install akvs charts/akvs -n kube-system"))
            return checks
        }
        checks.append(.ok("driver.settings", "driver DaemonSet \(install.name)", install.settings))
        checks += try await rolePods(label: Names.driverLabel, node: node, role: "driver", id: "node.driver",
                                     missingFix: "the DaemonSet \(install.name) runs no pod on \(node): check its nodeSelector and tolerations (kubectl describe daemonset -n \(install.namespace) \(install.daemonSet.text("metadata", "name") ?? ""))")
        if !install.inProcessProvider {
            checks += try await rolePods(label: Names.providerLabel, node: node, role: "Azure provider", id: "node.provider",
                                         missingFix: "install the provider DaemonSet (helm upgrade akvs charts/akvs --reuse-values), or run it in the driver: --set secrets-store-csi-driver.azureProvider.mode=in-process")
        }
        return checks
    }

    func rolePods(label: String, node: String, role: String, id: String, missingFix: String) async throws(DoctorError) -> [Check] {
        let pods = try await view.list(Kinds.pod, labels: label, fields: "spec.nodeName=\(node)")
        guard !pods.isEmpty else { return [.failure(id, "\(role) pod on \(node)", "none", fix: missingFix)] }
        return pods.map { PodHealth.check($0, id: id, role: role) }
    }

    /// After a mount: the SecretProviderClassPodStatus, and the Secrets `secretObjects` syncs with their keys and owners.
    func mountStatusChecks(pod: JSONValue, spc: JSONValue, volume: String, install: DriverInstall?) async throws(DoctorError) -> [Check] {
        let namespace = pod.text("metadata", "namespace") ?? ""
        let podName = pod.text("metadata", "name") ?? ""
        let className = spc.text("metadata", "name") ?? ""
        let statusName = "\(podName)-\(namespace)-\(className)"
        var checks: [Check] = []
        let status = try await view.get(Kinds.podStatus, statusName, namespace: namespace)
        if let status, status[path: ["status", "mounted"]]?.boolValue == true {
            let objects = status.list("status", "objects").compactMap { $0.text("id") }
            checks.append(.ok("mount.status", "SecretProviderClassPodStatus \(namespace)/\(statusName)", "mounted, \(objects.count) object version\(objects.count == 1 ? "" : "s") recorded"))
            if let stale = status.text("metadata", "annotations", "akvs.io/served-stale") {
                checks.append(.warning("mount.stale", "volume \(volume)", "served from the node's last good content: \(stale)",
                                       fix: "nothing to do once the vault answers (the next republish replaces it); meanwhile find why it does not: akvs doctor pod \(podName) -n \(namespace) --probe"))
            }
            if let missing = status.text("metadata", "annotations", "akvs.io/missing-optional-objects") {
                checks.append(.warning("mount.optional", "volume \(volume)", "optional objects missing or disabled in the vault, so without a file: \(missing)",
                                       fix: "create or enable them if the pod needs them; the file appears at the next rotation"))
            }
        } else {
            checks.append(.failure("mount.status", "SecretProviderClassPodStatus \(namespace)/\(statusName)",
                                   status == nil ? "not found: volume \(volume) has not been mounted" : "not mounted",
                                   fix: "fix the first ✗ above; kubelet retries the mount by itself (kubectl describe pod -n \(namespace) \(podName) shows the attempts)"))
        }
        let owners = status?.text("metadata", "uid")
        for object in spc.list("spec", "secretObjects") {
            let secretName = object.text("secretName") ?? ""
            let keys = object.list("data").compactMap { $0.text("key") }
            let subject = "synced Secret \(namespace)/\(secretName)"
            guard let secret = try await view.get(Kinds.secret, secretName, namespace: namespace) else {
                if install?.syncSecret == false {
                    checks.append(.failure("sync.secret", subject, "not found, and the driver runs with syncSecret.enabled=false",
                                           fix: "helm upgrade akvs charts/akvs --reuse-values --set secrets-store-csi-driver.syncSecret.enabled=true"))
                } else {
                    checks.append(.failure("sync.secret", subject, "not found: the driver creates it after a successful mount",
                                           fix: "fix the mount first (the lines above); the Secret follows"))
                }
                continue
            }
            let present = Set((secret["data"]?.objectValue ?? [:]).keys)
            let missing = keys.filter { !present.contains($0) }
            let ownerKinds = secret.list("metadata", "ownerReferences").map { "\($0.text("kind") ?? "?")/\($0.text("name") ?? "?")" }
            let ownedByMount = secret.list("metadata", "ownerReferences").contains { $0.text("kind") == "SecretProviderClassPodStatus" || ($0.text("uid") != nil && $0.text("uid") == owners) }
            if !missing.isEmpty {
                checks.append(.failure("sync.secret", subject, "lacks key\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) that secretObjects lists",
                                       fix: "each secretObjects data entry needs objectName equal to an object's alias or name in objects; correct SecretProviderClass \(namespace)/\(className)"))
            } else if !ownedByMount {
                checks.append(.warning("sync.secret", subject, "exists with keys \(keys.joined(separator: ", ")) but is not owned by a SecretProviderClassPodStatus (owners: \(ownerKinds.isEmpty ? "none" : ownerKinds.joined(separator: ", "))): someone else made it",
                                       fix: "delete it so the driver recreates and owns it: kubectl delete secret \(secretName) -n \(namespace)"))
            } else {
                checks.append(.ok("sync.secret", subject, "keys \(keys.joined(separator: ", ")), owned by the pod's mount"))
            }
        }
        return checks
    }
}
