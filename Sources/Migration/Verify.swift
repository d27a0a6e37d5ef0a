import Foundation
import Kubernetes
import StructuredJSON

/// Stage 6: every generated SecretSync reports success, every Secret has the expected keys, rollouts finished,
/// no migrated workload still mounts the CSI volume. Bounded wait with a progress line.
public struct Verification: Sendable {
    static let succeeded: Set<String> = ["CreateSucceeded", "UpdateNoValueChangeSucceeded", "UpdateValueChangeOrForceUpdateSucceeded"]
    let client: KubernetesClient
    let namespace: String?

    public init(client: KubernetesClient, namespace: String?) { self.client = client; self.namespace = namespace }

    /// One look: the problems left (empty = verified).
    public func check() async throws -> [Change] {
        var problems: [Change] = []
        let syncs = try await client.objects(MigrationKinds.secretSync, namespace: namespace, labelSelector: Translation.migratedLabel)
        for sync in syncs {
            let ns = sync.text("metadata", "namespace") ?? ""
            let name = sync.text("metadata", "name") ?? ""
            let generation = sync[path: ["metadata", "generation"]]?.numberValue
            let ok = sync.list("status", "conditions").contains { c in
                Self.succeeded.contains(c.text("reason") ?? "") && (generation == nil || c["observedGeneration"]?.numberValue ?? generation == generation)
            }
            if !ok {
                let reasons = sync.list("status", "conditions").map { "\($0.text("type") ?? "?")=\($0.text("reason") ?? "?")" }.joined(separator: ", ")
                problems.append(Change("verify", ns, "SecretSync/\(name)", .blocked, reasons.isEmpty ? "not reconciled yet" : "conditions \(reasons) (akvs doctor secretsync \(name) -n \(ns) explains)"))
                continue
            }
            let keys = sync.list("spec", "secretObject", "data").compactMap { $0.text("targetKey") }
            guard let secret = try await client.object(MigrationKinds.secret, name: name, namespace: ns) else {
                problems.append(Change("verify", ns, "Secret/\(name)", .blocked, "missing")); continue
            }
            let present = secret["data"]?.objectValue ?? [:]
            let missing = keys.filter { (present[$0]?.stringValue ?? "").isEmpty }
            if !missing.isEmpty { problems.append(Change("verify", ns, "Secret/\(name)", .blocked, "keys without data: \(missing.joined(separator: ", "))")) }
        }
        for entry in MigrationKinds.workloads where ["Deployment", "StatefulSet", "DaemonSet"].contains(entry.kind.kind) {
            for object in try await client.objects(entry.kind, namespace: namespace) {
                guard let workload = Workload(object) else { continue }
                let migrated = object.text("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt") != nil
                    && workload.podSpec.list("volumes").contains { $0["secret"] != nil }
                guard migrated, workload.csiVolumes.isEmpty else { continue }
                if let reason = Self.rolloutPending(object) {
                    problems.append(Change("verify", workload.namespace, "\(workload.kind)/\(workload.name)", .blocked, reason))
                }
            }
        }
        return problems
    }

    /// Why a rollout is not finished, as `kubectl rollout status` judges it; nil when done.
    static func rolloutPending(_ object: JSONValue) -> String? {
        let status = object["status"]
        func n(_ key: String) -> Int { Int(status?[key]?.numberValue ?? 0) }
        let generation = Int(object[path: ["metadata", "generation"]]?.numberValue ?? 0)
        if n("observedGeneration") < generation { return "rollout: the controller has not seen generation \(generation) yet" }
        if object.text("kind") == "DaemonSet" {
            return n("updatedNumberScheduled") >= n("desiredNumberScheduled") && n("numberAvailable") >= n("desiredNumberScheduled") ? nil
                : "rollout: \(n("updatedNumberScheduled"))/\(n("desiredNumberScheduled")) updated, \(n("numberAvailable")) available"
        }
        let wanted = Int(object[path: ["spec", "replicas"]]?.numberValue ?? 1)
        return n("updatedReplicas") >= wanted && n("readyReplicas") >= wanted ? nil : "rollout: \(n("updatedReplicas"))/\(wanted) updated, \(n("readyReplicas")) ready"
    }

    /// Checks until nothing is left or `timeout` passes, printing one progress line per round to `progress`.
    public func wait(timeout: Duration, progress: @Sendable (String) -> Void) async throws -> [Change] {
        let deadline = ContinuousClock.now + timeout
        var problems = try await check()
        while !problems.isEmpty, ContinuousClock.now < deadline {
            progress("verify: \(problems.count) left (\(problems.prefix(3).map { "\($0.namespace)/\($0.subject)" }.joined(separator: ", "))\(problems.count > 3 ? ", …" : ""))")
            try await Task.sleep(for: .seconds(1))
            problems = try await check()
        }
        return problems
    }
}
