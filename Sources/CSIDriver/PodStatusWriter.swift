import Kubernetes
import SecretsStoreAPI

/// Creates, updates and deletes SecretProviderClassPodStatus objects as upstream names, labels and owns them.
struct PodStatusWriter: Sendable {
    let client: KubernetesClient
    let nodeID: String

    /// Records that `pod` mounted `objects` at `targetPath`; returns the object (for its uid).
    /// `annotations` are akvs' own (`akvs.io/…`): set as given, and the ones not given removed.
    func record(pod: PodVolume, targetPath: String, objects: [SecretProviderClassPodStatus.ObjectVersion],
                annotations: [String: String] = [:]) async throws(PublishError) -> SecretProviderClassPodStatus {
        let desired = SecretProviderClassPodStatus(
            metadata: ObjectMeta(name: pod.podStatusName, namespace: pod.namespace,
                                 labels: [SecretProviderClassPodStatus.nodeNameLabel: nodeID], annotations: annotations.isEmpty ? nil : annotations,
                                 ownerReferences: [OwnerReference(apiVersion: "v1", kind: "Pod", name: pod.name, uid: pod.uid)]),
            status: .init(podName: pod.name, secretProviderClassName: pod.secretProviderClass, mounted: true, targetPath: targetPath,
                          objects: objects.sorted { $0.id < $1.id }))
        do {
            return try await client.create(desired)
        } catch let error as KubernetesError where error.isAlreadyExists {
            // A pod of the same name moved here (StatefulSet), or a republish: take the object over.
            return try await update(desired)
        } catch {
            throw .podStatus("create \(pod.namespace)/\(pod.podStatusName): \(error)")
        }
    }

    private func update(_ desired: SecretProviderClassPodStatus) async throws(PublishError) -> SecretProviderClassPodStatus {
        let name = desired.metadata.name ?? "", namespace = desired.metadata.namespace ?? ""
        for _ in 0..<5 {
            do {
                var current = try await client.get(SecretProviderClassPodStatus.self, name: name, namespace: namespace)
                var labels = current.metadata.labels ?? [:]
                labels[SecretProviderClassPodStatus.nodeNameLabel] = nodeID
                var annotations = (current.metadata.annotations ?? [:]).filter { !$0.key.hasPrefix("akvs.io/") }
                annotations.merge(desired.metadata.annotations ?? [:]) { _, new in new }
                if labels == current.metadata.labels, current.status == desired.status, annotations == current.metadata.annotations ?? [:],
                   current.metadata.ownerReferences == desired.metadata.ownerReferences { return current }
                current.metadata.labels = labels
                current.metadata.annotations = annotations.isEmpty ? nil : annotations
                current.metadata.ownerReferences = desired.metadata.ownerReferences
                current.status = desired.status
                return try await client.update(current)
            } catch let error as KubernetesError where error.isConflict || error.isNotFound {
                if error.isNotFound, let made = try? await client.create(desired) { return made }
                continue
            } catch {
                throw .podStatus("update \(namespace)/\(name): \(error)")
            }
        }
        throw .podStatus("update \(namespace)/\(name): conflicts persisted after 5 attempts")
    }

    /// Deletes the status of the volume at `targetPath`; a missing object is fine. With `uid`, only that object: a pod
    /// of the same name that moved to another node (StatefulSet) keeps the status its node wrote meanwhile.
    func delete(name: String, namespace: String, uid: String? = nil) async throws(PublishError) {
        do {
            try await client.delete(SecretProviderClassPodStatus.self, name: name, namespace: namespace, options: DeleteOptions(uid: uid))
        } catch let error as KubernetesError where error.isNotFound || (uid != nil && error.isConflict) {
            return
        } catch {
            throw .podStatus("delete \(namespace)/\(name): \(error)")
        }
    }

    /// The status objects of this node whose targetPath is `targetPath` (after a restart, when memory is empty).
    func find(targetPath: String) async -> [SecretProviderClassPodStatus] {
        let all = (try? await client.listAll(SecretProviderClassPodStatus.self, namespace: nil,
                                             labelSelector: "\(SecretProviderClassPodStatus.nodeNameLabel)=\(nodeID)"))?.items ?? []
        return all.filter { $0.status?.targetPath == targetPath }
    }
}
