import Doctor
import Restarter
import Foundation
import SecretsStoreAPI
import StructuredJSON
import Testing

/// The ✗ line with `id`, failing the test with the whole checklist when there is none.
func failure(_ report: DoctorReport, _ id: String, sourceLocation: SourceLocation = #_sourceLocation) -> Check? {
    let found = report.checks.first { $0.id == id && $0.status == .failure }
    #expect(found != nil, "no ✗ \(id) in:\n\(report.text())", sourceLocation: sourceLocation)
    return found
}

/// Keeps a report as a sample for docs/doctor.md when AKVS_DOCTOR_SAMPLES names a folder.
func keepSample(_ report: DoctorReport, _ name: String) {
    guard let folder = ProcessInfo.processInfo.environment["AKVS_DOCTOR_SAMPLES"] else { return }
    try? report.text().write(toFile: "\(folder)/\(name).txt", atomically: true, encoding: .utf8)
}

func expectHealthy(_ report: DoctorReport, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(report.checks.allSatisfy { $0.status == .ok }, "expected all ✓:\n\(report.text())", sourceLocation: sourceLocation)
    #expect(report.healthy, sourceLocation: sourceLocation)
}

/// No secret value reaches a report, whatever it says.
func expectNoValues(_ report: DoctorReport, sourceLocation: SourceLocation = #_sourceLocation) {
    for canary in ["db-canary-value", "api-canary-value", "off-canary-value", "reader-secret"] {
        #expect(!report.text().contains(canary) && !report.json().contains(canary), "\(canary) leaked", sourceLocation: sourceLocation)
    }
}

@Suite struct PodDoctorTests {
    @Test func healthyPodIsAllChecksAndProbeReadsEveryObject() async throws {
        try await Cluster.with { cluster in
            let report = await cluster.doctor(probe: true).pod("web", namespace: "apps")
            expectHealthy(report)
            #expect(report.checks.filter { $0.id == "probe.object" }.map(\.subject) == ["vault doc-kv secret/api", "vault doc-kv secret/db"])
            expectNoValues(report)
            #expect(report.text().hasPrefix("akvs doctor pod apps/web\n✓ Pod apps/web: Running, node node-1, service account web"))
        }
    }

    @Test func missingPod() async throws {
        try await Cluster.with { cluster in
            let report = await cluster.doctor().pod("nope", namespace: "apps")
            #expect(failure(report, "pod")?.fix == "check the name and namespace: kubectl get pods -n apps")
            #expect(!report.healthy)
        }
    }

    @Test func missingSecretProviderClass() async throws {
        try await Cluster.with { cluster in
            try await cluster.delete(SecretProviderClass.resourceKind, "vault", namespace: "apps")
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "secretProviderClass")
            #expect(check?.found == "not found")
            #expect(check?.fix?.contains("kubectl apply -n apps") == true)
        }
    }

    @Test func secretProviderClassInAnotherNamespace() async throws {
        try await Cluster.with { cluster in
            let spc = SecretProviderClass.resourceKind
            try await cluster.create(Cluster.kinds.namespace, ["apiVersion": "v1", "kind": "Namespace", "metadata": Cluster.meta("shared")])
            try await cluster.create(spc, ["apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass", "metadata": Cluster.meta("other", "shared"),
                                           "spec": ["provider": "azure", "parameters": .object(cluster.spcParameters)]])
            try await cluster.create(Cluster.kinds.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": Cluster.meta("lost", "apps"),
                                                         "spec": ["nodeName": "node-1", "containers": [["name": "app", "image": "busybox"]],
                                                                  "volumes": [["name": "s", "csi": ["driver": "secrets-store.csi.k8s.io", "volumeAttributes": ["secretProviderClass": "other"]]]]]])
            let check = failure(await cluster.doctor().pod("lost", namespace: "apps"), "secretProviderClass")
            #expect(check?.found.contains("exists in shared, but it must be in the same namespace as the pod") == true)
            #expect(check?.fix?.contains("kubectl get secretproviderclass other -n shared -o yaml") == true)
        }
    }

    @Test func badObjectsYAMLNamesTheFieldAndTheFix() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps",
                                    ["spec": ["parameters": ["objects": "array:\n  - |\n    objectName: db\n    objectType: secrt\n"]]])
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "secretProviderClass.parameters")
            #expect(check?.found.contains("objects[0] (db).objectType") == true, "\(String(describing: check))")
            #expect(check?.fix?.hasPrefix("edit it: kubectl edit secretproviderclass -n apps vault") == true)
        }
    }

    @Test func missingAudienceInTokenRequests() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(Cluster.kinds.csiDriver, "secrets-store.csi.k8s.io", ["spec": ["tokenRequests": .null]])
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "identity.tokenRequests")
            #expect(check?.fix?.contains("secrets-store-csi-driver.tokenRequests[0].audience=api://AzureADTokenExchange") == true)
        }
    }

    @Test func rotationWithoutRequiresRepublish() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(Cluster.kinds.csiDriver, "secrets-store.csi.k8s.io", ["spec": ["requiresRepublish": false]])
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "csiDriver")
            #expect(check?.found.contains("nothing rotates") == true)
        }
    }

    @Test func aStaleMountAndMissingOptionalObjectsAreWarningsAndRepublishIsNeeded() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(SecretProviderClassPodStatus.resourceKind, "web-apps-vault", namespace: "apps", ["metadata": ["annotations": [
                "akvs.io/served-stale": "content fetched 3h12m ago, served because Key Vault unreachable: 1",
                "akvs.io/missing-optional-objects": "secret/feature-flags"]]])
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps",
                                    ["metadata": ["annotations": ["akvs.io/serve-stale-on-outage": "24h"]]])
            let report = await cluster.doctor().pod("web", namespace: "apps")
            // Checks are looked up by id outside #expect: closures inside several #expect of one test were mixed up
            // by the Swift 6.3 toolchain (a closure of one expansion ran for another).
            let byID = Dictionary(report.checks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            #expect(report.healthy, "\(report.text())")
            #expect(byID["mount.stale"]?.status == .warning && byID["mount.stale"]?.found.contains("fetched 3h12m ago") == true, "\(report.text())")
            #expect(byID["mount.optional"]?.status == .warning && byID["mount.optional"]?.found.contains("secret/feature-flags") == true)
            #expect(byID["csiDriver.republish"] == nil)
            // Without kubelet's republish the stale content would stay until the pod restarts.
            try await cluster.patch(Cluster.kinds.csiDriver, "secrets-store.csi.k8s.io", ["spec": ["requiresRepublish": false]])
            let without = await cluster.doctor().pod("web", namespace: "apps")
            let republish = Dictionary(without.checks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })["csiDriver.republish"]
            #expect(republish?.status == .warning, "\(without.text())")
            #expect(republish?.fix == "helm upgrade akvs charts/akvs --reuse-values --set secrets-store-csi-driver.akvs.republish=true")
        }
    }

    @Test func aPodOfAWorkloadAnnotatedForRestartsShowsTheLastAndAPendingRestart() async throws {
        try await Cluster.with { cluster in
            let deployments = Cluster.kinds.deployment, replicaSets = ResourceKind(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets")
            try await cluster.create(Cluster.kinds.secret, ["apiVersion": "v1", "kind": "Secret", "metadata": Cluster.meta("db-creds", "apps"),
                                                            "data": ["password": "djE="]])
            let template: JSONValue = ["metadata": ["labels": ["app": "web"], "annotations": ["kubectl.kubernetes.io/restartedAt": "2026-12-06T10:00:00Z"]],
                                       "spec": ["containers": [["name": "app", "image": "busybox",
                                                                "env": [["name": "P", "valueFrom": ["secretKeyRef": ["name": "db-creds", "key": "password"]]]]]]]]
            let recorded = RecordedInputs.encode([.secret("db-creds"): SecretDigest.digest(type: "Opaque", data: ["password": "djE="])])
            let deployment = try await cluster.create(deployments, ["apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": ["name": "web", "namespace": "apps", "annotations": ["reloader.stakater.com/auto": "true", "akvs.io/restart-inputs": .string(recorded)]],
                "spec": ["selector": ["matchLabels": ["app": "web"]], "template": template]])
            let set = try await cluster.create(replicaSets, ["apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": ["name": "web-5d9c7", "namespace": "apps", "ownerReferences": [["apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                                                            "uid": deployment[path: ["metadata", "uid"]] ?? "", "controller": true]]],
                "spec": ["selector": ["matchLabels": ["app": "web"]], "template": template]])
            try await cluster.patch(Cluster.kinds.pod, "web", namespace: "apps", ["metadata": ["ownerReferences": [[
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9c7", "uid": set[path: ["metadata", "uid"]] ?? "", "controller": true]]]])
            var report = await cluster.doctor().pod("web", namespace: "apps")
            let current = Dictionary(report.checks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })["restart"]
            #expect(current?.status == .ok, "\(report.text())")
            #expect(current?.found == "watching Secret/db-creds; last restart 2026-12-06T10:00:00Z; its pods run on the current data")
            // The Secret changes: a restart is pending until the restarter makes it.
            try await cluster.patch(Cluster.kinds.secret, "db-creds", namespace: "apps", ["data": ["password": "djI="]])
            report = await cluster.doctor().pod("web", namespace: "apps")
            let pending = Dictionary(report.checks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })["restart"]
            #expect(pending?.status == .warning, "\(report.text())")
            let found = pending?.found ?? ""
            let saysWhy = found.hasPrefix("restart pending: Secret db-creds changed since its pods started")
            #expect(saysWhy, "\(found)")
            #expect(report.healthy)
        }
    }

    @Test func driverNotRegisteredOnTheNode() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(Cluster.kinds.csiNode, "node-1", ["spec": ["drivers": []]])
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "node.csiNode")
            #expect(check?.found == "secrets-store.csi.k8s.io is not registered with kubelet on this node")
            #expect(check?.fix?.contains("linux.kubeletRootDir") == true)
        }
    }

    @Test func providerPodCrashLooping() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(Cluster.kinds.pod, "akvs-provider-x1", namespace: "kube-system",
                                    ["status": Cluster.readyStatus(waiting: "CrashLoopBackOff", restarts: 7, lastTerminated: "Error")], status: true)
            let report = await cluster.doctor().pod("web", namespace: "apps")
            keepSample(report, "pod-provider-crashloop")
            let check = failure(report, "node.provider")
            #expect(check?.found == "Running, not Ready, 7 restarts; secrets-store waiting: CrashLoopBackOff; secrets-store last terminated: Error (exit 2)")
            #expect(check?.fix == "kubectl logs -n kube-system akvs-provider-x1 -c secrets-store --previous; kubectl describe pod -n kube-system akvs-provider-x1")
        }
    }

    @Test func failedMountEventIsDecoded() async throws {
        try await Cluster.with { cluster in
            try await cluster.create(Cluster.kinds.event, ["apiVersion": "v1", "kind": "Event", "metadata": Cluster.meta("web.1", "apps"),
                                                           "involvedObject": ["kind": "Pod", "name": "web", "namespace": "apps"], "type": "Warning", "reason": "FailedMount", "count": 4,
                                                           "message": "MountVolume.SetUp failed for volume \"secrets\" : rpc error: code = Unknown desc = failed to mount secrets store objects for pod apps/web, err: rpc error: code = Unknown desc = AADSTS70021: No matching federated identity record found"])
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "events")
            #expect(check?.subject == "Event FailedMount ×4 on pod/web")
            #expect(check?.fix?.contains("see the 'identity.federation' line above") == true)
        }
    }

    @Test func everyKindOfMountFailureIsDecoded() async throws {
        let prefix = "MountVolume.SetUp failed for volume \"secrets\" : rpc error: code = Unknown desc = failed to mount secrets store objects for pod apps/web, err: rpc error: code = Unknown desc = failed to mount objects, error: "
        let kinds: [(tag: String, check: String, meaning: String)] = [
            ("[throttled by Key Vault (429): 1] failed to get objectType:secret, objectName:db, objectVersion:: Key Vault kv answered HTTP 429 Throttled (Retry-After 7 s)", "probe", "throttled"),
            ("[Key Vault unreachable: 2] failed to get objectType:secret, objectName:db, objectVersion:: connection refused", "probe", "could not be reached"),
            ("[identity rejected] AADSTS50034: The user account {EUII Hidden} does not exist in the directory", "identity", "refused the identity"),
            ("[forbidden: 1] failed to get objectType:secret, objectName:db, objectVersion:: Key Vault kv answered HTTP 403 Forbidden", "probe.access", "no read access"),
            ("[not found: 1] failed to get objectType:secret, objectName:db, objectVersion:: Key Vault kv answered HTTP 404 SecretNotFound", "probe.object", "optional: true"),
            ("[disabled: 1] failed to get objectType:secret, objectName:db, objectVersion:: Key Vault kv answered HTTP 403 SecretDisabled", "probe.object", "disabled"),
        ]
        try await Cluster.with { cluster in
            for (index, kind) in kinds.enumerated() {
                try await cluster.create(Cluster.kinds.event, ["apiVersion": "v1", "kind": "Event", "metadata": Cluster.meta("web.k\(index)", "apps"),
                                                               "involvedObject": ["kind": "Pod", "name": "web", "namespace": "apps"], "type": "Warning", "reason": "FailedMount",
                                                               "message": .string(prefix + kind.tag)])
                let report = await cluster.doctor().pod("web", namespace: "apps")
                let check = report.checks.first { $0.id == "events" && $0.status == .failure && $0.found.contains(String(kind.tag.prefix(12))) }
                #expect(check?.fix?.contains("see the '\(kind.check)' line above") == true && check?.fix?.contains(kind.meaning) == true, "\(kind.tag): \(report.text())")
                try await cluster.delete(Cluster.kinds.event, "web.k\(index)", namespace: "apps")
            }
        }
    }

    @Test func staleAndOptionalMountsAreWarningsThatSayWhy() async throws {
        try await Cluster.with { cluster in
            for (name, reason, message) in [("web.stale", "MountServedStale", "the vault could not be reached (Key Vault unreachable: 1): SecretProviderClass vault was mounted from the last good content on this node, fetched 3h12m ago"),
                                             ("web.optional", "OptionalObjectMissing", "optional objects of SecretProviderClass vault are missing or disabled in the vault and have no file: secret/feature-flags")] {
                try await cluster.create(Cluster.kinds.event, ["apiVersion": "v1", "kind": "Event", "metadata": Cluster.meta(name, "apps"),
                                                               "involvedObject": ["kind": "Pod", "name": "web", "namespace": "apps"], "type": "Warning",
                                                               "reason": .string(reason), "message": .string(message)])
            }
            let report = await cluster.doctor().pod("web", namespace: "apps")
            #expect(report.healthy, "\(report.text())")
            let events = report.checks.filter { $0.id == "events" }
            #expect(events.count == 2 && events.allSatisfy { $0.status == .warning }, "\(report.text())")
            #expect(events.contains { $0.found.contains("runs on the node's last good content") })
            #expect(events.contains { $0.found.contains("their files appear when the objects do") })
        }
    }

    @Test func independentFailuresAreAllReported() async throws {
        try await Cluster.with { cluster in
            // A broken objects parameter and a missing nodePublishSecretRef Secret: kubelet fails the mount on the
            // second whatever the first says, so both are ✗, and the summary still points at the first.
            var parameters = cluster.spcParameters
            parameters["objects"] = "array:\n  - |\n    objectType: secret\n"
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps", ["spec": ["parameters": .object(parameters)]])
            try await cluster.create(Cluster.kinds.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": Cluster.meta("web-sp", "apps"),
                                                         "spec": ["nodeName": "node-1", "serviceAccountName": "web",
                                                                  "containers": [["name": "app", "image": "busybox"]],
                                                                  "volumes": [["name": "secrets", "csi": ["driver": "secrets-store.csi.k8s.io", "readOnly": true,
                                                                                                          "volumeAttributes": ["secretProviderClass": "vault"],
                                                                                                          "nodePublishSecretRef": ["name": "sp-creds"]]]]]])
            let report = await cluster.doctor().pod("web-sp", namespace: "apps")
            let failures = report.checks.filter { $0.status == .failure }.map(\.id)
            #expect(failures.contains("secretProviderClass.parameters"), "\(report.text())")
            #expect(failure(report, "identity.credentials")?.found.contains("not found") == true)
            #expect(failures.first == "secretProviderClass.parameters")
        }
    }

    @Test func warningsNotAboutTheMountDoNotFailThePod() async throws {
        try await Cluster.with { cluster in
            try await cluster.create(Cluster.kinds.event, ["apiVersion": "v1", "kind": "Event", "metadata": Cluster.meta("web.dns", "apps"),
                                                           "involvedObject": ["kind": "Pod", "name": "web", "namespace": "apps"], "type": "Warning",
                                                           "reason": "MissingClusterDNS", "count": 3,
                                                           "message": "pod: \"web_apps(uid)\". kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy."])
            // A FailedMount of another volume (not a secrets-store one) is not this driver's either.
            try await cluster.create(Cluster.kinds.event, ["apiVersion": "v1", "kind": "Event", "metadata": Cluster.meta("web.cm", "apps"),
                                                           "involvedObject": ["kind": "Pod", "name": "web", "namespace": "apps"], "type": "Warning", "reason": "FailedMount",
                                                           "message": "MountVolume.SetUp failed for volume \"config\" : configmap \"app-config\" not found"])
            let report = await cluster.doctor().pod("web", namespace: "apps")
            #expect(report.healthy, "\(report.text())")
            let events = report.checks.filter { $0.id == "events" }
            #expect(events.count == 2 && events.allSatisfy { $0.status == .warning })
        }
    }

    @Test func aFailedMountBeforeTheMountSucceededIsAWarning() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(Cluster.kinds.pod, "web", namespace: "apps",
                                    ["status": ["phase": "Running", "containerStatuses": [["name": "app", "ready": true, "restartCount": 0,
                                                                                           "state": ["running": ["startedAt": "2026-12-01T10:05:00Z"]]]]]], status: true)
            let message = "MountVolume.SetUp failed for volume \"secrets\" : rpc error: code = Unknown desc = AADSTS70021: No matching federated identity record found"
            try await cluster.create(Cluster.kinds.event, ["apiVersion": "v1", "kind": "Event", "metadata": Cluster.meta("web.old", "apps"),
                                                           "involvedObject": ["kind": "Pod", "name": "web", "namespace": "apps"], "type": "Warning", "reason": "FailedMount",
                                                           "lastTimestamp": "2026-12-01T10:00:00Z", "message": .string(message)])
            var report = await cluster.doctor().pod("web", namespace: "apps")
            #expect(report.healthy, "\(report.text())")
            #expect(report.checks.first { $0.id == "events" }?.found.contains("resolved") == true)
            // The same failure again, after the containers started (a rotation's republish failing), is ✗.
            try await cluster.create(Cluster.kinds.event, ["apiVersion": "v1", "kind": "Event", "metadata": Cluster.meta("web.new", "apps"),
                                                           "involvedObject": ["kind": "Pod", "name": "web", "namespace": "apps"], "type": "Warning", "reason": "FailedMount",
                                                           "lastTimestamp": .string(APITime.string(Date().addingTimeInterval(60))), "message": .string(message + " (again)")])
            report = await cluster.doctor().pod("web", namespace: "apps")
            #expect(failure(report, "events")?.fix?.contains("identity.federation") == true)
        }
    }

    @Test func unsyncedAndForeignSecretObjects() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps",
                                    ["spec": ["secretObjects": [["secretName": "db-synced", "type": "Opaque", "data": [["objectName": "db", "key": "password"]]]]]])
            var report = await cluster.doctor().pod("web", namespace: "apps")
            #expect(failure(report, "sync.secret")?.found == "not found: the driver creates it after a successful mount")
            try await cluster.create(Cluster.kinds.secret, ["apiVersion": "v1", "kind": "Secret", "metadata": Cluster.meta("db-synced", "apps"),
                                                            "data": ["password": .string(Data("x".utf8).base64EncodedString())]])
            report = await cluster.doctor().pod("web", namespace: "apps")
            #expect(report.checks.first { $0.id == "sync.secret" }?.status == .warning)
        }
    }

    @Test func subPathMountIsCalledOut() async throws {
        try await Cluster.with { cluster in
            try await cluster.create(Cluster.kinds.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": Cluster.meta("sub", "apps"),
                                                         "spec": ["nodeName": "node-1", "serviceAccountName": "web",
                                                                  "containers": [["name": "app", "image": "busybox", "volumeMounts": [["name": "s", "mountPath": "/etc/db", "subPath": "db"]]]],
                                                                  "volumes": [["name": "s", "csi": ["driver": "secrets-store.csi.k8s.io", "volumeAttributes": ["secretProviderClass": "vault"]]]]]])
            let report = await cluster.doctor().pod("sub", namespace: "apps")
            #expect(report.checks.first { $0.id == "volume.subPath" }?.subject == "subPath mount app:/etc/db")
        }
    }
}
