import AzureIdentity
import AzureProvider
import Foundation
import StructuredJSON

extension Doctor {
    /// `akvs doctor pod NAME -n NS`: pod → volumes → SecretProviderClass → identity → CSIDriver → node → events → status → synced Secrets.
    public func pod(_ name: String, namespace: String) async -> DoctorReport {
        await report("pod \(namespace)/\(name)") { (report: inout DoctorReport) throws(DoctorError) in
            guard let pod = try await view.get(Kinds.pod, name, namespace: namespace) else {
                report.add(.failure("pod", "Pod \(namespace)/\(name)", "not found", fix: "check the name and namespace: kubectl get pods -n \(namespace)"))
                return
            }
            let node = pod.text("spec", "nodeName")
            let serviceAccount = pod.text("spec", "serviceAccountName") ?? "default"
            let phase = pod.text("status", "phase") ?? "Unknown"
            report.add(.ok("pod", "Pod \(namespace)/\(name)", "\(phase), node \(node ?? "(not scheduled)"), service account \(serviceAccount)"))

            let volumes = pod.list("spec", "volumes").filter { $0.text("csi", "driver") == Names.driver }
            // A workload annotated for restarts: whatever it mounts or reads, its restarts are checked last.
            let restarts = try await restartChecks(pod)
            defer { report.add(restarts) }
            guard !volumes.isEmpty else {
                report.add(.failure("volume", "CSI volumes", "the pod has no volume of driver \(Names.driver)",
                                    fix: "add one to the pod spec:\nvolumes:\n  - name: secrets-store\n    csi:\n      driver: \(Names.driver)\n      readOnly: true\n      volumeAttributes:\n        secretProviderClass: <name>"))
                return
            }
            let installs = try await DriverInstall.find(view)
            let install = installs.first
            var needsAudience = false
            var classes: [(volume: String, spc: JSONValue)] = []
            for volume in volumes {
                let (spc, checks, workload) = try await volumeChecks(volume, pod: pod, namespace: namespace, serviceAccount: serviceAccount)
                report.add(checks)
                needsAudience = needsAudience || workload
                if let spc { classes.append((volume.text("name") ?? "", spc)) }
            }
            let (driver, driverChecks) = try await csiDriverChecks(install, needsAudience: needsAudience)
            report.add(driverChecks)
            if let driver, driver[path: ["spec", "requiresRepublish"]]?.boolValue != true {
                report.add(republishNeeds(classes.map(\.spc)))
            }
            report.add(try await nodeChecks(node: node, installs: installs))
            let events = try await view.events(namespace: namespace, name: name, uid: pod.text("metadata", "uid"))
            let mounted = try await mountedSince(pod, classes: classes.map(\.spc))
            report.add(podEventChecks(events, volumes: volumes.compactMap { $0.text("name") }, mountedSince: mounted, about: "pod/\(name)"))
            for (volume, spc) in classes {
                report.add(try await mountStatusChecks(pod: pod, spc: spc, volume: volume, install: install))
            }
        }
    }

    /// A class setting that only works when kubelet republishes (CSIDriver requiresRepublish) is ! without it.
    func republishNeeds(_ classes: [JSONValue]) -> [Check] {
        let needing = ["akvs.io/serve-stale-on-outage", "akvs.io/rotation-poll-interval", "akvs.io/refresh-requested-at"]
        return classes.compactMap { spc in
            let set = needing.filter { spc.text("metadata", "annotations", $0) != nil || spc.text("spec", "parameters", $0) != nil }
            guard !set.isEmpty else { return nil }
            return .warning("csiDriver.republish", "SecretProviderClass \(spc.text("metadata", "name") ?? "")",
                            "sets \(set.joined(separator: ", ")), which act on kubelet's republish, and the CSIDriver has requiresRepublish=false (stale content stays until the pod restarts; no per-class rotation or refresh)",
                            fix: "helm upgrade akvs charts/akvs --reuse-values --set secrets-store-csi-driver.akvs.republish=true")
        }
    }

    /// One CSI volume: its SecretProviderClass, parameters, identity mode and what that mode needs, subPath use, probe.
    func volumeChecks(_ volume: JSONValue, pod: JSONValue, namespace: String, serviceAccount: String) async throws(DoctorError) -> (JSONValue?, [Check], Bool) {
        let volumeName = volume.text("name") ?? ""
        var checks: [Check] = []
        guard let className = volume.text("csi", "volumeAttributes", "secretProviderClass"), !className.isEmpty else {
            checks.append(.failure("volume", "volume \(volumeName)", "secretProviderClass is not set",
                                   fix: "set volumes[name=\(volumeName)].csi.volumeAttributes.secretProviderClass to the SecretProviderClass's name"))
            return (nil, checks, false)
        }
        checks.append(.ok("volume", "volume \(volumeName)", "driver \(Names.driver), secretProviderClass \(className)"))
        let (found, lookup) = try await ClassChecks.find(view, name: className, namespace: namespace, usedBy: "the pod")
        checks.append(lookup)
        // kubelet reads a named nodePublishSecretRef Secret before the driver sees the class, so its check stands on
        // its own: a broken or missing class does not hide a missing credentials Secret.
        let referenced = !(volume.text("csi", "nodePublishSecretRef", "name") ?? "").isEmpty
        guard let spc = found else {
            if referenced { checks += try await credentialChecks(volume, namespace: namespace).1 }
            return (nil, checks, false)
        }
        let (parameters, attributes, parameterChecks) = ClassChecks.parameters(spc)
        checks += parameterChecks
        for mount in subPathMounts(pod, volume: volumeName) {
            checks.append(.warning("volume.subPath", "subPath mount \(mount)", "files mounted with subPath are never updated by rotation (kubelet binds them once)",
                                   fix: "mount the whole volume (no subPath) and read the file from the directory"))
        }
        guard let parameters else {
            if referenced { checks += try await credentialChecks(volume, namespace: namespace).1 }
            return (spc, checks, false)
        }
        var secrets: [String: String] = [:]
        var workload = false
        switch parameters.identity {
        case .servicePrincipal:
            let (found, credentialChecks) = try await credentialChecks(volume, namespace: namespace)
            checks += credentialChecks
            guard let found else { return (spc, checks, false) }
            secrets = found
        case .workloadIdentity(let clientID):
            workload = true
            checks.append(try await serviceAccountCheck(serviceAccount, namespace: namespace, clientID: clientID))
            if referenced { checks += try await referencedSecretCheck(volume, namespace: namespace) }
        case .managedIdentity:
            checks.append(.ok("identity", "identity", "\(ClassChecks.identityName(parameters.identity)); the node's IMDS issues its token"))
            if referenced { checks += try await referencedSecretCheck(volume, namespace: namespace) }
        }
        if let probe {
            checks += await probe.run(parameters: parameters, attributes: attributes, secrets: secrets,
                                      serviceAccount: workload ? (namespace, serviceAccount) : nil, only: nil)
        }
        return (spc, checks, workload)
    }

    func subPathMounts(_ pod: JSONValue, volume: String) -> [String] {
        (pod.list("spec", "containers") + pod.list("spec", "initContainers")).flatMap { container in
            container.list("volumeMounts").filter { $0.text("name") == volume && !($0.text("subPath") ?? "").isEmpty }
                .map { "\(container.text("name") ?? "?"):\($0.text("mountPath") ?? "?")" }
        }
    }

    /// Service principal: the nodePublishSecretRef Secret exists, has clientid and clientsecret, carries the used label.
    func credentialChecks(_ volume: JSONValue, namespace: String) async throws(DoctorError) -> ([String: String]?, [Check]) {
        let subject = "identity"
        guard let secretName = volume.text("csi", "nodePublishSecretRef", "name"), !secretName.isEmpty else {
            return (nil, [.failure("identity.credentials", subject, "service principal mode (no clientID, useVMManagedIdentity false) but the volume has no nodePublishSecretRef",
                                   fix: "use workload identity: set parameters.clientID in the SecretProviderClass (recommended), or reference a Secret:\n"
                                       + "  csi:\n    nodePublishSecretRef:\n      name: <secret with clientid and clientsecret>")])
        }
        let label = "kubectl label secret \(secretName) -n \(namespace) \(Names.usedLabel)=true"
        guard let secret = try await view.get(Kinds.secret, secretName, namespace: namespace) else {
            return (nil, [.failure("identity.credentials", "credentials Secret \(namespace)/\(secretName)", "not found (nodePublishSecretRef names it)",
                                   fix: "kubectl create secret generic \(secretName) -n \(namespace) --from-literal clientid=<app id> --from-literal clientsecret=<secret>; \(label)")])
        }
        var data: [String: String] = [:]
        for (key, value) in secret["data"]?.objectValue ?? [:] {
            if let text = value.stringValue, let bytes = Data(base64Encoded: text) { data[key] = String(decoding: bytes, as: UTF8.self) }
        }
        let keys = Set(data.keys.map { $0.lowercased() })
        let missing = ["clientid", "clientsecret"].filter { !keys.contains($0) }
        if !missing.isEmpty {
            return (nil, [.failure("identity.credentials", "credentials Secret \(namespace)/\(secretName)", "has no \(missing.joined(separator: " or ")) key (keys: \(data.keys.sorted().joined(separator: ", ")))",
                                   fix: "kubectl create secret generic \(secretName) -n \(namespace) --from-literal clientid=<app id> --from-literal clientsecret=<secret> --dry-run=client -o yaml | kubectl apply -f -")])
        }
        let rawClientID = data.first { $0.key.lowercased() == "clientid" }?.value.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        // Never printed as is unless it is an ID: a secret in the wrong key must not reach the checklist.
        let clientID = IdentityValidation.shown(rawClientID)
        guard IdentityValidation.isGUID(rawClientID) else {
            return (nil, [.failure("identity.credentials", "credentials Secret \(namespace)/\(secretName)",
                                   "clientid is \(clientID), not the application (client) ID GUID: are clientid and clientsecret swapped?",
                                   fix: "kubectl create secret generic \(secretName) -n \(namespace) --from-literal clientid=<app id GUID> --from-literal clientsecret=<secret> --dry-run=client -o yaml | kubectl apply -f -")])
        }
        guard secret.text("metadata", "labels", Names.usedLabel) == "true" else {
            return (data, [.failure("identity.credentials", "credentials Secret \(namespace)/\(secretName)",
                                    "has clientid \(clientID) and clientsecret, but not the label \(Names.usedLabel)=true: the driver's filtered Secret watch (and rotation) does not see it",
                                    fix: label)])
        }
        return (data, [.ok("identity.credentials", "credentials Secret \(namespace)/\(secretName)", "service principal \(clientID), clientsecret present, labelled \(Names.usedLabel)=true")])
    }

    /// A nodePublishSecretRef the identity mode does not use must still exist: kubelet fails the mount without it.
    func referencedSecretCheck(_ volume: JSONValue, namespace: String) async throws(DoctorError) -> [Check] {
        let name = volume.text("csi", "nodePublishSecretRef", "name") ?? ""
        guard try await view.get(Kinds.secret, name, namespace: namespace) == nil else { return [] }
        return [.failure("identity.credentials", "nodePublishSecretRef Secret \(namespace)/\(name)",
                         "not found: kubelet fails the mount on a missing nodePublishSecretRef, although this identity mode does not use it",
                         fix: "remove nodePublishSecretRef from volume \(volume.text("name") ?? "") (the SecretProviderClass does not need it), or create the Secret")]
    }

    /// When the pod's volumes were last known mounted: its containers started after kubelet mounted every volume,
    /// and a SecretProviderClassPodStatus is written after a successful mount.
    func mountedSince(_ pod: JSONValue, classes: [JSONValue]) async throws(DoctorError) -> Date? {
        let namespace = pod.text("metadata", "namespace") ?? ""
        let podName = pod.text("metadata", "name") ?? ""
        var times = (pod.list("status", "containerStatuses") + pod.list("status", "initContainerStatuses")).compactMap {
            $0.text("state", "running", "startedAt") ?? $0.text("state", "terminated", "startedAt")
        }
        for spc in classes {
            let statusName = "\(podName)-\(namespace)-\(spc.text("metadata", "name") ?? "")"
            if let status = try await view.get(Kinds.podStatus, statusName, namespace: namespace), status[path: ["status", "mounted"]]?.boolValue == true,
               let created = status.text("metadata", "creationTimestamp") {
                times.append(created)
            }
        }
        return times.compactMap(EventSummary.date).max()
    }

    /// Warnings about the pod: a failed secrets-store mount is ✗ (decoded into the check that explains it) unless the
    /// volume mounted after it (strictly: times have whole seconds, and a same-second one is shown rather than hidden); every other Warning (e.g. kubelet's MissingClusterDNS) is ! and leaves the exit code alone.
    func podEventChecks(_ events: [EventSummary], volumes: [String], mountedSince: Date?, about: String) -> [Check] {
        events.filter { $0.type == "Warning" }.prefix(8).map { event in
            let times = event.count > 1 ? " ×\(event.count)" : ""
            let subject = "Event \(event.reason)\(times) on \(about)"
            let message = EventDecoder.excerpt(event.message)
            if let meaning = EventDecoder.degradedMountReasons[event.reason] {
                return .warning("events", subject, message + " (\(meaning))")
            }
            guard EventDecoder.isSecretsStoreMountFailure(event, volumes: volumes) else {
                return .warning("events", subject, message + " (not about the secrets-store volumes)")
            }
            if let mountedSince, let when = EventSummary.date(event.last), when < mountedSince {
                return .warning("events", subject, message + " (resolved: the volumes mounted at \(EventSummary.format(mountedSince)), after this event)")
            }
            if let explanation = EventDecoder.explain(event.message) {
                return .failure("events", subject, message, fix: "\(explanation.meaning): see the '\(explanation.check)' line above (fix that, then the event stops)")
            }
            return .failure("events", subject, message,
                            fix: "kubectl describe \(about) and the driver's logs: kubectl logs -n kube-system -l \(Names.driverLabel) -c secrets-store")
        }
    }

    /// Workload identity: the pod's service account exists; what its federated credential must say.
    func serviceAccountCheck(_ name: String, namespace: String, clientID: String) async throws(DoctorError) -> Check {
        guard try await view.get(Kinds.serviceAccount, name, namespace: namespace) != nil else {
            return .failure("identity.serviceAccount", "service account \(namespace)/\(name)", "not found",
                            fix: "kubectl create serviceaccount \(name) -n \(namespace)")
        }
        let issuer = await view.issuer() ?? "(the cluster's OIDC issuer)"
        return .ok("identity.serviceAccount", "service account \(namespace)/\(name)",
                   "workload identity \(clientID); its federated credential must have issuer \(issuer), subject system:serviceaccount:\(namespace):\(name), audience \(Names.workloadAudience) (--probe verifies)")
    }
}
