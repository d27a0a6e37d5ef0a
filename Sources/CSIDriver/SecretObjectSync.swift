import Foundation
import Kubernetes
import ObjectFormats
import SecretsStoreAPI

/// Syncs a SecretProviderClass's `secretObjects` into Kubernetes Secrets from the files of one mount, as the
/// upstream driver's secret-sync controller does: managed label, SPC labels/annotations, `kubernetes.io/tls`
/// key/cert extraction, and one owner reference per consuming pod status so the Secret goes with its last pod.
/// A Secret without the managed label belongs to someone else and is never overwritten.
package struct SecretObjectSync: Sendable {
    static let managedLabel = "secrets-store.csi.k8s.io/managed"
    let client: KubernetesClient

    /// What happened to one Secret.
    enum Outcome: Sendable, Equatable { case created, updated, unchanged }

    /// One secretObject that could not be synced; the message names the field or Secret and the fix.
    struct Failure: Error, Sendable, CustomStringConvertible {
        var secretName: String
        var reason: String
        var description: String { reason }
    }

    /// The Secret a secretObject describes, before it is written.
    struct Desired: Sendable {
        var name: String
        var type: String
        var labels: [String: String]
        var annotations: [String: String]?
        var data: [String: Data]
    }

    /// Builds every Secret of `spc` from `files` (path → content). Invalid entries become failures; a Secret that needs
    /// a file in `absent` (an optional object missing from the vault) is left out: it is neither written nor a failure.
    static func desired(_ spc: SecretProviderClass, files: [String: [UInt8]], absent: Set<String> = []) -> [Result<Desired, Failure>] {
        let paths = Set(files.keys)
        let needed = (spc.spec.secretObjects ?? []).enumerated().filter { _, object in
            !(object.data ?? []).contains { item in item.objectName.map { absent.contains($0) && !paths.contains($0) } ?? false }
        }
        return needed.map { index, object in
            let field = "spec.secretObjects[\(index)]"
            let name = object.secretName ?? ""
            func fail(_ reason: String) -> Result<Desired, Failure> { .failure(Failure(secretName: name, reason: reason)) }
            if let problem = problem(object, index: index, files: paths) { return fail(problem.reason) }
            let type = object.type ?? ""
            var data: [String: Data] = [:]
            for item in object.data ?? [] {
                let objectName = item.objectName ?? "", key = item.key ?? ""
                let content = files[objectName] ?? []
                if type == "kubernetes.io/tls", key == "tls.key" || key == "tls.crt" {
                    do {
                        let pair = try TLSKeyPair.parse(content)
                        data[key] = Data((key == "tls.key" ? pair.privateKey : pair.certificates).utf8)
                    } catch {
                        return fail("object \(objectName) for \(field) (\(type)) \(error); mount the certificate as objectType: secret")
                    }
                } else {
                    data[key] = Data(content)
                }
            }
            var labels = object.labels ?? [:]
            labels[managedLabel] = "true"
            return .success(Desired(name: name, type: type, labels: labels, annotations: object.annotations, data: data))
        }
    }

    /// What makes a secretObject unusable before any content is looked at (also `akvs validate`, which passes the
    /// file paths the class's objects produce): the field path and the reason, naming the fix.
    package static func problem(_ object: SecretProviderClass.SecretObject, index: Int, files: Set<String>) -> (field: String, reason: String)? {
        let field = "spec.secretObjects[\(index)]"
        let name = object.secretName ?? ""
        guard !name.isEmpty else { return ("\(field).secretName", "\(field).secretName is empty; name the Kubernetes Secret to create") }
        guard isDNSSubdomain(name) else { return ("\(field).secretName", "\(field).secretName '\(name)' is not a valid Secret name (lower-case letters, digits, '-' and '.')") }
        guard let type = object.type, !type.isEmpty else { return ("\(field).type", "\(field).type is empty; use Opaque, kubernetes.io/tls or another Secret type") }
        guard let items = object.data, !items.isEmpty else { return ("\(field).data", "\(field).data is empty; list objectName/key pairs") }
        for (i, item) in items.enumerated() {
            let itemField = "\(field).data[\(i)]"
            guard let objectName = item.objectName, !objectName.isEmpty else { return ("\(itemField).objectName", "\(itemField).objectName is empty; name a mounted object (its alias if it has one)") }
            guard let key = item.key, !key.isEmpty else { return ("\(itemField).key", "\(itemField).key is empty; name the Secret data key") }
            guard key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else {
                return ("\(itemField).key", "\(itemField).key '\(key)' is not a valid Secret key (letters, digits, '-', '_' and '.')")
            }
            guard files.contains(objectName) else {
                return ("\(itemField).objectName", "file matching objectName \(objectName) not found in the pod (\(itemField).objectName must be an object's alias or name, or name/N with objectVersionHistory)")
            }
        }
        let keys = Set(items.compactMap(\.key))
        if type == "kubernetes.io/tls", !keys.contains("tls.key") || !keys.contains("tls.crt") {
            return ("\(field).data", "\(field) has type kubernetes.io/tls and needs data keys tls.key and tls.crt")
        }
        return nil
    }

    /// Creates or updates `desired` in `namespace`, adding each of `owners` (the pod statuses of this node's volumes of
    /// the class) that it lacks; writes nothing when all is equal. A changed type replaces the Secret (a type cannot
    /// be updated): deleted only if it is still the one read, then created.
    func apply(_ desired: Desired, namespace: String, owners wanted: [OwnerReference]) async throws(Failure) -> Outcome {
        for _ in 0..<5 {
            do {
                let current: Secret
                do {
                    current = try await client.get(Secret.self, name: desired.name, namespace: namespace)
                } catch let error as KubernetesError where error.isNotFound {
                    let secret = Secret(metadata: ObjectMeta(name: desired.name, namespace: namespace, labels: desired.labels,
                                                             annotations: desired.annotations, ownerReferences: wanted),
                                        type: desired.type, data: desired.data)
                    _ = try await client.create(secret)
                    return .created
                }
                guard current.metadata.labels?[Self.managedLabel] == "true" else {
                    throw Failure(secretName: desired.name, reason: "Secret \(namespace)/\(desired.name) exists and is not managed by the driver (no label \(Self.managedLabel)=true); it is left as it is: choose another secretName or delete that Secret")
                }
                var owners = current.metadata.ownerReferences ?? []
                for owner in wanted where !owners.contains(where: { $0.uid == owner.uid }) { owners.append(owner) }
                if let type = current.type, type != desired.type {
                    try await client.delete(Secret.self, name: desired.name, namespace: namespace,
                                            options: DeleteOptions(uid: current.metadata.uid, resourceVersion: current.metadata.resourceVersion))
                    let secret = Secret(metadata: ObjectMeta(name: desired.name, namespace: namespace, labels: desired.labels,
                                                             annotations: desired.annotations, ownerReferences: owners),
                                        type: desired.type, data: desired.data)
                    _ = try await client.create(secret)
                    return .updated
                }
                if current.data ?? [:] == desired.data, current.metadata.labels == desired.labels,
                   current.metadata.annotations ?? [:] == desired.annotations ?? [:], owners == current.metadata.ownerReferences ?? [] {
                    return .unchanged
                }
                var updated = current
                updated.data = desired.data
                updated.metadata.labels = desired.labels
                updated.metadata.annotations = desired.annotations
                updated.metadata.ownerReferences = owners
                _ = try await client.update(updated)
                return .updated
            } catch let failure as Failure {
                throw failure
            } catch let error as KubernetesError where error.isConflict || error.isAlreadyExists {
                continue
            } catch let error as KubernetesError where error.code == 403 {
                throw Failure(secretName: desired.name, reason: "not allowed to write Secret \(namespace)/\(desired.name): \(error); grant the driver create/get/update on secrets (Helm: syncSecret.enabled=true)")
            } catch {
                throw Failure(secretName: desired.name, reason: "cannot write Secret \(namespace)/\(desired.name): \(error)")
            }
        }
        throw Failure(secretName: desired.name, reason: "Secret \(namespace)/\(desired.name) kept changing under the driver (5 conflicts); it will be retried")
    }

    /// The label on a Secret kept after its last pod (`akvs.io/retain-secret`): owned by nothing, deleted by its user.
    static let retainedLabel = "akvs.io/retained"

    /// A volume of a class with `akvs.io/retain-secret: "true"` is going: `owner` stops owning the managed Secret, and
    /// when no owner is left the Secret is labelled retained, so garbage collection never takes it. Optimistic
    /// concurrency makes the last of several nodes doing this at once see the empty owner list.
    func release(_ name: String, namespace: String, ownerUID: String) async throws(Failure) {
        for _ in 0..<5 {
            do {
                var current = try await client.get(Secret.self, name: name, namespace: namespace)
                guard current.metadata.labels?[Self.managedLabel] == "true" else { return }
                let owners = (current.metadata.ownerReferences ?? []).filter { $0.uid != ownerUID }
                let retain = owners.isEmpty && current.metadata.labels?[Self.retainedLabel] != "true"
                guard owners.count != (current.metadata.ownerReferences ?? []).count || retain else { return }
                current.metadata.ownerReferences = owners.isEmpty ? nil : owners
                if owners.isEmpty { current.metadata.labels?[Self.retainedLabel] = "true" }
                _ = try await client.update(current)
                return
            } catch let error as KubernetesError where error.isNotFound {
                return
            } catch let error as KubernetesError where error.isConflict {
                continue
            } catch {
                throw Failure(secretName: name, reason: "cannot keep Secret \(namespace)/\(name) after its last pod (akvs.io/retain-secret): \(error)")
            }
        }
        throw Failure(secretName: name, reason: "Secret \(namespace)/\(name) kept changing under the driver (5 conflicts) while it was being retained")
    }

    static func isDNSSubdomain(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 253, let first = name.first, let last = name.last,
              first.isASCII && (first.isLowercase || first.isNumber), last.isASCII && (last.isLowercase || last.isNumber) else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
    }
}
