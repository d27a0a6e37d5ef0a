import AzureProvider
import Foundation
import StructuredJSON

extension Doctor {
    static let succeeded: Set<String> = ["CreateSucceeded", "UpdateNoValueChangeSucceeded", "UpdateValueChangeOrForceUpdateSucceeded"]

    /// `akvs doctor secretsync NAME -n NS`: SecretSync → SecretProviderClass → service account → RBAC → conditions → Secret → events → controller.
    public func secretSync(_ name: String, namespace: String) async -> DoctorReport {
        await report("secretsync \(namespace)/\(name)") { (report: inout DoctorReport) throws(DoctorError) in
            guard let sync = try await view.get(Kinds.secretSync, name, namespace: namespace) else {
                report.add(.failure("secretSync", "SecretSync \(namespace)/\(name)", "not found", fix: "check the name and namespace: kubectl get secretsyncs -n \(namespace)"))
                return
            }
            let className = sync.text("spec", "secretProviderClassName") ?? ""
            let serviceAccount = sync.text("spec", "serviceAccountName") ?? ""
            let items = sync.list("spec", "secretObject", "data")
            report.add(.ok("secretSync", "SecretSync \(namespace)/\(name)", "secretProviderClassName \(className), serviceAccountName \(serviceAccount), \(items.count) key\(items.count == 1 ? "" : "s")"))

            let installs = try await SyncInstall.find(view)
            var parameters: MountParameters?
            var attributes: [String: String] = [:]
            let (spc, lookup) = try await ClassChecks.find(view, name: className, namespace: namespace, usedBy: "the SecretSync")
            report.add(lookup)
            if let spc {
                let parsed = ClassChecks.parameters(spc)
                report.add(parsed.checks)
                parameters = parsed.parameters
                attributes = parsed.attributes
                if let mode = parsed.parameters?.identity { report.add(Self.syncIdentityCheck(mode, spc: spc)) }
            }
            let saExists = try await view.get(Kinds.serviceAccount, serviceAccount, namespace: namespace) != nil
            report.add(saExists
                ? .ok("identity.serviceAccount", "service account \(namespace)/\(serviceAccount)", "found; its federated credential must have subject system:serviceaccount:\(namespace):\(serviceAccount)")
                : .failure("identity.serviceAccount", "service account \(namespace)/\(serviceAccount)", "not found", fix: "kubectl create serviceaccount \(serviceAccount) -n \(namespace)"))
            report.add(try await tokenPermission(installs.first, namespace: namespace, serviceAccount: serviceAccount))

            report.add(Self.conditionChecks(sync))
            report.add(try await managedSecretCheck(sync, namespace: namespace))
            report.add(eventChecks(try await view.events(namespace: namespace, name: name, uid: sync.text("metadata", "uid")), id: "events", about: "secretsync/\(name)"))
            report.add(try await controllerChecks(installs))

            if let probe, let parameters, saExists {
                let keys = Set(items.compactMap { $0.text("sourcePath") })
                report.add(await probe.run(parameters: parameters, attributes: attributes, secrets: [:], serviceAccount: (namespace, serviceAccount),
                                           audience: installs.first?.audience ?? Names.workloadAudience, only: keys))
            }
        }
    }

    static func syncIdentityCheck(_ mode: MountParameters.IdentityMode, spc: JSONValue) -> Check {
        switch mode {
        case .workloadIdentity(let id):
            return .ok("identity", "identity", "workload identity \(id) through the SecretSync's service account")
        case .servicePrincipal:
            return .failure("identity", "identity", "the SecretProviderClass has no clientID: a SecretSync authenticates only with its service account's token (workload identity)",
                            fix: "set parameters.clientID in SecretProviderClass \(spc.objectName) to the managed identity's client ID federated with the service account")
        case .managedIdentity:
            return .warning("identity", "identity", "\(ClassChecks.identityName(mode)): works only where the controller's node has that identity; the Secret Store extension supports workload identity only",
                            fix: "set parameters.clientID (workload identity) and useVMManagedIdentity: \"false\"")
        }
    }

    /// SubjectAccessReview: may the controller's service account request tokens for this service account?
    func tokenPermission(_ install: SyncInstall?, namespace: String, serviceAccount: String) async throws(DoctorError) -> Check {
        guard let install else {
            return .failure("rbac.tokenRequest", "sync controller", "no Deployment labelled \(Names.syncLabel): nothing reconciles SecretSyncs",
                            fix: "helm upgrade akvs charts/akvs --reuse-values --set syncController.enabled=true")
        }
        let user = "system:serviceaccount:\(install.namespace):\(install.serviceAccount)"
        let review: JSONValue = ["apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                 "spec": ["user": .string(user), "resourceAttributes": ["namespace": .string(namespace), "verb": "create", "group": "",
                                                                                        "resource": "serviceaccounts", "subresource": "token", "name": .string(serviceAccount)]]]
        let subject = "RBAC: \(user) create serviceaccounts/token for \(namespace)/\(serviceAccount)"
        let answer: JSONValue
        do { answer = try await view.client.create(Kinds.accessReview, body: review) } catch {
            return .warning("rbac.tokenRequest", subject, "could not ask (SubjectAccessReview): \(error)", fix: "kubectl auth can-i create serviceaccounts/token --as \(user) -n \(namespace)")
        }
        if answer[path: ["status", "allowed"]]?.boolValue == true {
            return .ok("rbac.tokenRequest", subject, "allowed\(answer.text("status", "reason").map { " (\($0))" } ?? "")")
        }
        return .failure("rbac.tokenRequest", subject, "denied: the controller cannot get a token for the service account, so every sync fails",
                        fix: "kubectl create clusterrole akvs-sync-token --verb=create --resource=serviceaccounts/token --dry-run=client -o yaml | kubectl apply -f -\n"
                            + "kubectl create rolebinding akvs-sync-token -n \(namespace) --clusterrole=akvs-sync-token --serviceaccount=\(install.namespace):\(install.serviceAccount)\n"
                            + "(the chart's ClusterRole grants it in every namespace: helm upgrade akvs charts/akvs --reuse-values)")
    }

    static func conditionChecks(_ sync: JSONValue) -> [Check] {
        let conditions = sync.list("status", "conditions")
        let name = sync.objectName
        guard !conditions.isEmpty else {
            return [.warning("conditions", "SecretSync \(name) status", "no conditions yet: the controller has not reconciled it (see the controller lines below)")]
        }
        let generation = sync[path: ["metadata", "generation"]]?.numberValue
        return conditions.map { condition in
            let type = condition.text("type") ?? "?"
            let reason = condition.text("reason") ?? ""
            let message = EventDecoder.excerpt(condition.text("message") ?? "")
            let stale = generation.map { (condition["observedGeneration"]?.numberValue ?? $0) < $0 } ?? false
            let subject = "condition \(type)"
            if succeeded.contains(reason) {
                return stale ? .warning("conditions", subject, "\(reason), but for an older generation: the latest edit is not synced yet") : .ok("conditions", subject, reason)
            }
            return .failure("conditions", subject, "\(reason): \(message)", fix: fix(reason: reason, sync: sync, message: message))
        }
    }

    static func fix(reason: String, sync: JSONValue, message: String) -> String {
        let namespace = sync.text("metadata", "namespace") ?? ""
        switch reason {
        case "ProviderError":
            if let explanation = EventDecoder.explain(message) { return "\(explanation.meaning); run akvs doctor secretsync \(sync.text("metadata", "name") ?? "") -n \(namespace) --probe to tell the identity and vault errors apart" }
            return "the vault read failed; run with --probe to see Entra's and Key Vault's own error codes"
        case "ControllerSPCError": return "fix the SecretProviderClass lines above"
        case "UserInputValidationFailed": return "correct spec.secretObject as the message says: kubectl edit secretsync -n \(namespace) \(sync.text("metadata", "name") ?? "")"
        case "InvalidClusterSecretLabelError", "InvalidClusterSecretAnnotationError":
            return "remove the reserved label or annotation from spec.secretObject (labels/annotations)"
        case "ControllerSyncFailed": return "the Secret could not be written: see the managed Secret line below (owned by someone else?)"
        default: return "see the message; the controller's logs: kubectl logs -n <namespace> -l \(Names.syncLabel)"
        }
    }

    /// The Secret the SecretSync manages: exists, owned by this SecretSync, with every key.
    func managedSecretCheck(_ sync: JSONValue, namespace: String) async throws(DoctorError) -> Check {
        let name = sync.text("metadata", "name") ?? ""
        let subject = "Secret \(namespace)/\(name)"
        guard let secret = try await view.get(Kinds.secret, name, namespace: namespace) else {
            return .failure("secret", subject, "not found: the SecretSync has not created it", fix: "fix the condition lines above; the controller creates it on the next reconcile")
        }
        let owners = secret.list("metadata", "ownerReferences")
        let ours = owners.contains { $0.text("kind") == "SecretSync" && $0.text("uid") == sync.text("metadata", "uid") }
        guard ours else {
            let names = owners.map { "\($0.text("kind") ?? "?")/\($0.text("name") ?? "?")" }
            return .failure("secret", subject, "exists but is owned by \(names.isEmpty ? "nobody (made by hand or another tool)" : names.joined(separator: ", ")), not by this SecretSync; the controller never takes over a Secret it did not create",
                            fix: "rename the SecretSync, or move the existing Secret aside: kubectl delete secret \(name) -n \(namespace) (after checking nothing else needs it)")
        }
        let keys = sync.list("spec", "secretObject", "data").compactMap { $0.text("targetKey") }
        let present = Set((secret["data"]?.objectValue ?? [:]).keys)
        let missing = keys.filter { !present.contains($0) }
        if !missing.isEmpty {
            return .warning("secret", subject, "owned by the SecretSync, but without key\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) (partial sync?)",
                            fix: "see the condition lines: an object failed to sync")
        }
        return .ok("secret", subject, "owned by the SecretSync, keys \(keys.joined(separator: ", ")), type \(secret.text("type") ?? "Opaque")")
    }

    /// The controller: Deployment ready, leader Lease held and fresh.
    func controllerChecks(_ installs: [SyncInstall]) async throws(DoctorError) -> [Check] {
        guard let install = installs.first else { return [] }
        var checks: [Check] = []
        let name = install.deployment.text("metadata", "name") ?? ""
        let ready = Int(install.deployment[path: ["status", "readyReplicas"]]?.numberValue ?? 0)
        let wanted = Int(install.deployment[path: ["spec", "replicas"]]?.numberValue ?? 1)
        if ready > 0 {
            checks.append(.ok("controller", "sync controller Deployment \(install.name)", "\(ready)/\(wanted) Ready; \(install.settings)"))
        } else {
            let pods = try await view.list(Kinds.pod, namespace: install.namespace, labels: Names.syncLabel)
            checks += pods.map { PodHealth.check($0, id: "controller", role: "sync controller") }
            checks.append(.failure("controller", "sync controller Deployment \(install.name)", "0/\(wanted) Ready",
                                   fix: "kubectl describe deployment -n \(install.namespace) \(name); kubectl logs -n \(install.namespace) -l \(Names.syncLabel) --previous"))
        }
        guard let lease = try await view.get(Kinds.lease, Names.leaderLease, namespace: install.leaseNamespace) else {
            checks.append(.failure("controller.leader", "leader Lease \(install.leaseNamespace)/\(Names.leaderLease)", "not found: no replica has become leader, so nothing is reconciled",
                                   fix: "check the controller's logs for leader election errors: kubectl logs -n \(install.namespace) -l \(Names.syncLabel)"))
            return checks
        }
        let holder = lease.text("spec", "holderIdentity") ?? ""
        let duration = lease[path: ["spec", "leaseDurationSeconds"]]?.numberValue ?? 15
        let renewed = lease.text("spec", "renewTime").flatMap(Self.date)
        let age = renewed.map { Date().timeIntervalSince($0) }
        if holder.isEmpty {
            checks.append(.failure("controller.leader", "leader Lease \(install.leaseNamespace)/\(Names.leaderLease)", "no holder", fix: "kubectl logs -n \(install.namespace) -l \(Names.syncLabel)"))
        } else if let age, age > duration * 2 {
            checks.append(.failure("controller.leader", "leader Lease \(install.leaseNamespace)/\(Names.leaderLease)", "held by \(holder) but last renewed \(Int(age)) s ago (duration \(Int(duration)) s): the leader is gone",
                                   fix: "kubectl get pods -n \(install.namespace) -l \(Names.syncLabel); a new leader takes over once the lease expires"))
        } else {
            checks.append(.ok("controller.leader", "leader Lease \(install.leaseNamespace)/\(Names.leaderLease)", "held by \(holder)\(age.map { ", renewed \(Int($0)) s ago" } ?? "")"))
        }
        return checks
    }

    static func date(_ text: String) -> Date? {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }
}
