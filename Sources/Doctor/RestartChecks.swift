import Foundation
import Restarter
import StructuredJSON

extension Doctor {
    /// For a pod of a Deployment, StatefulSet or DaemonSet annotated for restarts (Reloader's annotations): when
    /// `akvs restarter` last restarted it and for what, and whether a change is pending (a Secret's data now differs
    /// from what its pods were started with).
    func restartChecks(_ pod: JSONValue) async throws(DoctorError) -> [Check] {
        guard let (kind, workload) = try await owningWorkload(pod), let triggers = Triggers(annotations: annotations(workload, ["metadata", "annotations"])) else { return [] }
        let namespace = workload.text("metadata", "namespace") ?? ""
        let subject = "restarts of \(kind.rawValue) \(namespace)/\(workload.text("metadata", "name") ?? "")"
        let template = annotations(workload, ["spec", "template", "metadata", "annotations"])
        guard let recorded = RecordedInputs.decode(annotations(workload, ["metadata", "annotations"])[Triggers.inputsAnnotation]) else {
            return [.warning("restart", subject, "annotated for restarts, but akvs restarter has not recorded its inputs: it does not run or cannot see the workload",
                             fix: "helm upgrade akvs charts/akvs --reuse-values --set restarter.enabled=true; then kubectl logs -n kube-system -l app=akvs-restarter")]
        }
        // Secrets can be compared here; a class's versions are only known from rotations the restarter saw.
        let references = WorkloadBody.references(workload[path: ["spec", "template", "spec"]])
        var pending: [String] = []
        for input in triggers.inputs(references).sorted() {
            guard case .secret(let name) = input, let was = recorded[input], let secret = try await view.get(Kinds.secret, name, namespace: namespace) else { continue }
            let data = (secret["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            if SecretDigest.digest(type: secret.text("type"), data: data) != was { pending.append("Secret \(name) changed") }
        }
        let last = template[Triggers.restartedAt].map { "last restart \($0)" } ?? "not restarted yet"
        let watched = triggers.inputs(references).sorted().map(\.description).joined(separator: ", ")
        if !pending.isEmpty {
            return [.warning("restart", subject, "restart pending: \(pending.joined(separator: "; ")) since its pods started (\(last)); the restarter restarts it after its debounce window, or once a running rollout ends",
                             fix: "wait for the debounce window; if it stays pending: kubectl logs -n kube-system -l app=akvs-restarter, and kubectl get events -n \(namespace) --field-selector reason=RestartPaused")]
        }
        return [.ok("restart", subject, "watching \(watched.isEmpty ? "nothing referenced" : watched); \(last); its pods run on the current data")]
    }

    /// The Deployment (through its ReplicaSet), StatefulSet or DaemonSet that owns a pod.
    private func owningWorkload(_ pod: JSONValue) async throws(DoctorError) -> (WorkloadKind, JSONValue)? {
        let namespace = pod.text("metadata", "namespace") ?? ""
        guard let owner = pod.list("metadata", "ownerReferences").first(where: { $0[path: ["controller"]]?.boolValue == true }) ?? pod.list("metadata", "ownerReferences").first,
              let name = owner.text("name") else { return nil }
        switch owner.text("kind") {
        case "ReplicaSet":
            guard let set = try await view.get(Kinds.replicaSet, name, namespace: namespace),
                  let deployment = set.list("metadata", "ownerReferences").first(where: { $0.text("kind") == "Deployment" })?.text("name"),
                  let found = try await view.get(Kinds.deployment, deployment, namespace: namespace) else { return nil }
            return (.deployment, found)
        case "StatefulSet": return try await view.get(Kinds.statefulSet, name, namespace: namespace).map { (.statefulSet, $0) }
        case "DaemonSet": return try await view.get(Kinds.daemonSet, name, namespace: namespace).map { (.daemonSet, $0) }
        default: return nil
        }
    }

    private func annotations(_ object: JSONValue, _ path: [String]) -> [String: String] {
        (object[path: path]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }
}
