import AzureProvider
import Foundation
import Kubernetes
import Logging
import SecretsStoreAPI
import Serving
import StructuredJSON

/// Reconciles one SecretSync: level-based and idempotent. Fetches through the provider, writes the Secret only
/// when its content hash changed, never overwrites a Secret it does not own, and keeps the last good Secret on
/// any failure (the failure goes to status and an event).
struct SecretSyncReconciler: Sendable {
    let client: KubernetesClient
    let syncs: Informer<SecretSync>
    let classes: Informer<SecretProviderClass>
    let source: any SecretSource
    let hasher: SyncHasher
    let tokens: TokenProvider
    let events: EventRecorder
    let memory: SyncMemory
    let circuits: VaultCircuits
    let statistics: SyncStatistics
    let configuration: SyncConfiguration
    let logger: Logger
    let groups: GroupedFetches
    let expiry: ExpiryWarnings

    enum Outcome: Equatable {
        case synced
        case failed(SyncFailure)
        case gone
        /// A drifted Secret was restored from memory.
        case repaired
        /// The status write raced another writer: try again at once.
        case retry
    }

    func reconcile(_ key: String) async -> Outcome {
        let start = ContinuousClock.now
        let outcome = await reconcileOnce(key)
        let elapsed = ContinuousClock.now - start
        await statistics.observe(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        let series = LastAttemptMetrics.Key(kind: "SecretSync", namespace: parts.count == 2 ? parts[0] : "", name: parts.last ?? key)
        switch outcome {
        case .synced, .repaired: statistics.attempts.record(series, success: true)
        case .failed: statistics.attempts.record(series, success: false)
        case .gone: statistics.attempts.remove(series)
        case .retry: break
        }
        return outcome
    }

    func reconcileOnce(_ key: String) async -> Outcome {
        guard let sync = await syncs.get(key), let namespace = sync.metadata.namespace, let name = sync.metadata.name, let uid = sync.metadata.uid else {
            return .gone
        }
        var status = sync.status ?? SecretSync.Status()
        let neverSynced = (status.syncHash ?? "").isEmpty
        let drifted = await memory.takeDrift(uid)
        if drifted, !neverSynced, let last = await memory.data(uid) {
            // Restore what was last written; the vault is not called.
            do {
                // The opt-in repair rewrites data, labels and annotations (or recreates a deleted Secret).
                try await writeSecret(sync, data: last, mayBeAbsent: false)
                await events.record(.normal, regarding: ObjectReference(sync), reason: "SecretRestored", action: "Update",
                                    note: "Secret \(namespace)/\(name) was edited or deleted outside akvs; restored from the last synced data")
                return .repaired
            } catch {
                logger.warning("restoring a drifted Secret failed", metadata: ["secretSync": "\(namespace)/\(name)", "error": "\(error)"])
            }
        }
        let conditionType = neverSynced ? SyncConditionType.create : SyncConditionType.update
        let now = Date()
        do {
            try SecretDataBuilder.validate(sync)
            guard let spc = await classes.get(namespace: namespace, name: sync.spec.secretProviderClassName) else {
                throw SyncFailure(.controllerSPCError, "SecretProviderClass \(namespace)/\(sync.spec.secretProviderClassName) not found: create it in the SecretSync's namespace or fix spec.secretProviderClassName")
            }
            let tokenJSON = try await tokens.tokensAttribute(namespace: namespace, serviceAccount: sync.spec.serviceAccountName, audience: configuration.tokenAudience)
            let vault = spc.spec.parameters?["keyvaultName"] ?? ""
            if let pause = await circuits.pause(for: vault) {
                throw SyncFailure(.providerError, "Key Vault \(vault) was unavailable or throttling for \(pause.failures) reconciles in a row; calls to it are paused for \(Int(Double(pause.remaining.components.seconds) + 1)) s and the Secret keeps its last values")
            }
            let baseline = Self.baseline(sync, spc: spc)
            let fresh = await needsFreshRead(sync, baseline: baseline, neverSynced: neverSynced)
            let fetched = try await fetchForGroup(sync, spc: spc, namespace: namespace, tokenJSON: tokenJSON, vault: vault, fresh: fresh)
            var built = SecretDataBuilder.build(sync, fetched: fetched)
            // A replica that restarted or just became leader does not remember the values of the items that failed:
            // it writes only the keys it fetched and learns the rest from the reply (no Secret read, which upstream's
            // RBAC does not grant).
            var keysOnly = false
            if !built.missing.isEmpty {
                // Nothing fetched is a provider failure, not a partial sync; the Secret stays as it was.
                let previous = await memory.data(uid)
                guard configuration.enablePartialSecretSync, !built.data.isEmpty else {
                    throw SyncFailure(.providerError, Self.itemsMessage(built.missing))
                }
                if !neverSynced, built.missing.keys.contains(where: { previous?[$0] == nil }) {
                    keysOnly = true
                } else {
                    // Partial sync: keys that failed keep their last written values.
                    for (key, value) in previous ?? [:] where built.missing[key] != nil { built.data[key] = value }
                }
            }
            if keysOnly {
                built.data = try await writeKeys(sync, data: built.data)
                await memory.remember(uid, data: built.data)
            }
            let hash = hasher.hash(sync: sync, spc: spc, data: built.data)
            let changed = keysOnly || hash != status.syncHash
            if changed || drifted {
                if !keysOnly {
                    // Remembered first, so the watch event of this very write is not taken for drift.
                    let previous = await memory.data(uid)
                    await memory.remember(uid, data: built.data)
                    do { try await writeSecret(sync, data: built.data, mayBeAbsent: neverSynced) } catch {
                        if let previous { await memory.remember(uid, data: previous) } else { await memory.forget(uid) }
                        throw error
                    }
                }
                status.syncHash = hash
                status.lastSuccessfulSyncTime = APITime.string(now)
            }
            let reason: SyncReason
            if !built.missing.isEmpty {
                reason = .partialSync
                status.set(conditionType, status: false, reason: reason, message: Self.itemsMessage(built.missing), generation: sync.metadata.generation, now: now)
            } else {
                reason = neverSynced ? .createSucceeded : (changed ? .updateValueChangeOrForceUpdateSucceeded : .updateNoValueChangeSucceeded)
                // A poll that finds nothing new writes nothing (as upstream HEAD): the conditions keep saying what the
                // last change was. Only a recovery from a failed condition is written as UpdateNoValueChangeSucceeded.
                let failing = status.conditions?.contains { $0.status != "True" } ?? false
                if changed || failing {
                    if failing, !changed, !neverSynced {
                        for type in [SyncConditionType.create, SyncConditionType.update] where status.condition(type)?.status == "False" && type != conditionType {
                            status.set(type, status: true, reason: type == SyncConditionType.create ? .createSucceeded : reason,
                                       message: (type == SyncConditionType.create ? SyncReason.createSucceeded : reason).defaultMessage, generation: sync.metadata.generation, now: now)
                        }
                    }
                    status.set(conditionType, status: true, reason: reason, message: reason.defaultMessage, generation: sync.metadata.generation, now: now)
                }
            }
            await statistics.reconciled(reason)
            if changed || status.conditions != sync.status?.conditions {
                guard try await writeStatus(sync, status) else { return .retry }
            }
            // An Event for the create and for a partial sync; a value change is in the status condition and
            // lastSuccessfulSyncTime already, and an Event per rotation would double the writes of every rotation.
            if changed && (neverSynced || reason == .partialSync) {
                await events.record(reason == .partialSync ? .warning : .normal, regarding: ObjectReference(sync), reason: reason.rawValue,
                                    action: neverSynced ? "Create" : "Update",
                                    note: reason == .partialSync ? "Secret \(namespace)/\(name) partly synced: \(built.missing.keys.sorted().joined(separator: ", ")) kept their last values" : "Secret \(namespace)/\(name) \(neverSynced ? "created" : "updated") from SecretProviderClass \(spc.metadata.name ?? "")")
            }
            await warnOfExpiry(sync, fetched: fetched, vault: vault)
            if reason == .partialSync { return .failed(SyncFailure(.partialSync, Self.itemsMessage(built.missing))) }
            await memory.recordBaseline(uid, baseline)
            return .synced
        } catch let failure as SyncFailure {
            await statistics.reconciled(failure.reason)
            logger.warning("sync failed", metadata: ["secretSync": "\(namespace)/\(name)", "reason": "\(failure.reason.rawValue)", "error": "\(failure.message)"])
            status.set(conditionType, status: false, reason: failure.reason, message: failure.message, generation: sync.metadata.generation, now: now)
            if status.conditions != sync.status?.conditions {
                _ = try? await writeStatus(sync, status)
                await events.record(.warning, regarding: ObjectReference(sync), reason: failure.reason.rawValue, action: neverSynced ? "Create" : "Update", note: failure.message)
            }
            return .failed(failure)
        } catch {
            let failure = SyncFailure(.controllerInternalError, "\(error)")
            await statistics.reconciled(failure.reason)
            status.set(conditionType, status: false, reason: failure.reason, message: failure.message, generation: sync.metadata.generation, now: now)
            if status.conditions != sync.status?.conditions { _ = try? await writeStatus(sync, status) }
            return .failed(failure)
        }
    }

    /// Fetches for this SecretSync through its group: one provider call serves every member of the group
    /// (same SPC uid and generation, service account and audience) that is due within the group window.
    func fetchForGroup(_ sync: SecretSync, spc: SecretProviderClass, namespace: String, tokenJSON: String, vault: String,
                       fresh: Bool = false) async throws(SyncFailure) -> FetchedObjects {
        let wanted = SecretDataBuilder.referencedFiles(sync)
        var union = wanted
        for other in await syncs.list(namespace: namespace)
        where other.spec.secretProviderClassName == sync.spec.secretProviderClassName && other.spec.serviceAccountName == sync.spec.serviceAccountName {
            union.formUnion(SecretDataBuilder.referencedFiles(other))
        }
        let key = GroupedFetches.Key(namespace: namespace, spcUID: spc.metadata.uid ?? "", spcGeneration: spc.metadata.generation ?? 0,
                                     serviceAccount: sync.spec.serviceAccountName, audience: configuration.tokenAudience)
        let request = FetchRequest(secretProviderClass: spc, namespace: namespace, serviceAccountName: sync.spec.serviceAccountName,
                                   serviceAccountTokens: tokenJSON, podName: configuration.podName, podUID: configuration.podUID, referencedFiles: wanted,
                                   maxAge: fresh ? .zero : nil)
        let source = self.source, statistics = self.statistics, circuits = self.circuits
        let result = await groups.fetch(key, wanted: wanted, union: union, fresh: fresh) { files in
            var groupRequest = request
            groupRequest.referencedFiles = files
            do throws(SyncFailure) {
                let fetched = try await source.fetch(groupRequest)
                await statistics.providerCalled(failed: !fetched.failures.isEmpty)
                await circuits.record(vault, unavailable: fetched.vaultUnavailable)
                return .success(fetched)
            } catch {
                await statistics.providerCalled(failed: true)
                return .failure(error)
            }
        }
        switch result {
        case .success(var fetched):
            // Only this member's items: another member's failure is not this SecretSync's partial sync.
            fetched.files = fetched.files.filter { entry in wanted.contains(entry.key) || wanted.contains { entry.key.hasPrefix($0 + "/") } }
            fetched.failures = fetched.failures.filter { wanted.contains($0.key) }
            let objects = Set(fetched.files.keys.compactMap { fetched.fileObjects[$0] })
            fetched.validity = fetched.validity.filter { objects.contains($0.key) }
            return fetched
        case .failure(let failure):
            throw failure
        }
    }

    /// A Warning on the SecretSync for each object it uses that expires within `--expiry-warning`: once per object
    /// version and day (`ExpiryWarnings`), never per reconcile.
    func warnOfExpiry(_ sync: SecretSync, fetched: FetchedObjects, vault: String) async {
        for (id, validity) in fetched.validity.sorted(by: { $0.key < $1.key }) {
            guard let note = await expiry.warning(owner: sync.metadata.uid ?? "", object: id, version: fetched.versions[id] ?? "", vault: vault, validity: validity) else { continue }
            await events.record(.warning, regarding: ObjectReference(sync), reason: "ObjectExpiring", action: "Sync", note: note)
        }
    }

    /// What a sync is made from besides the vault: the SecretSync's generation and the SPC's uid and generation.
    static func baseline(_ sync: SecretSync, spc: SecretProviderClass) -> String {
        "\(sync.metadata.generation ?? 0)/\(spc.metadata.uid ?? "")/\(spc.metadata.generation ?? 0)"
    }

    /// A force, a spec edit or an SPC edit since the last success reads the vault instead of shared results. Without
    /// a remembered success (a restarted controller), a SecretSync whose current generation never succeeded counts as edited.
    func needsFreshRead(_ sync: SecretSync, baseline: String, neverSynced: Bool) async -> Bool {
        guard !neverSynced else { return false }
        if let last = await memory.baseline(sync.metadata.uid ?? "") { return last != baseline }
        let succeeded = sync.status?.conditions?.contains { $0.status == "True" && $0.observedGeneration == sync.metadata.generation } ?? false
        return !succeeded
    }

    /// Per-item JSON, as the Secret Store extension reports PartialSync.
    static func itemsMessage(_ missing: [String: String]) -> String {
        let items: JSONValue = .array(missing.keys.sorted().map { ["targetKey": .string($0), "error": .string(missing[$0]!)] })
        return String(decoding: items.encoded(), as: UTF8.self)
    }

    /// A partial sync without remembered values: one JSON patch that tests ownership and sets only the fetched keys,
    /// so the keys of the items that failed keep what the Secret holds. Returns the Secret's whole data from the reply.
    func writeKeys(_ sync: SecretSync, data: [String: Data]) async throws -> [String: Data] {
        try Task.checkCancellation()
        let name = sync.metadata.name ?? "", namespace = sync.metadata.namespace ?? "", uid = sync.metadata.uid ?? ""
        let operations: [JSONValue] = [["op": "test", "path": "/metadata/ownerReferences/0/uid", "value": .string(uid)]]
            + data.keys.sorted().map { key in
                ["op": "add", "path": .string("/data/" + key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")),
                 "value": .string(data[key]!.base64EncodedString())]
            }
        do {
            let written = try await client.patch(Secret.self, name: name, namespace: namespace, .json(operations), fieldManager: configuration.fieldManager)
            await statistics.secretWritten()
            return written.data ?? data
        } catch let error as KubernetesError where error.isNotFound {
            // Gone since the last write: nothing to keep, so it is created with what was fetched.
            try await writeSecret(sync, data: data, mayBeAbsent: true)
            return data
        } catch let error as KubernetesError where error.code == 422 {
            throw SyncFailure(.invalidClusterSecretLabelError, "Secret \(namespace)/\(name) is not owned by this SecretSync (no ownerReference to SecretSync \(name) uid \(uid)), or has no data to keep; akvs never overwrites a Secret it does not own: delete or rename that Secret")
        } catch let error as KubernetesError {
            throw SyncFailure(.controllerSyncFailed, "writing the fetched keys of Secret \(namespace)/\(name) failed: \(error); the other keys keep their values")
        }
    }

    /// Writes the Secret with one request whenever it can, and never one that is expected to fail.
    ///
    /// A SecretSync that never synced creates its Secret with a POST: one write, and a Secret of that name that
    /// someone else made is answered 409 AlreadyExists without being touched. Every later write (and a POST that
    /// met AlreadyExists) is one JSON patch whose first operation `test`s `/metadata/ownerReferences/0/uid`, so
    /// the ownership check and the write are atomic: a Secret owned by someone else fails the test (422) and is
    /// never changed. Only `create` and `patch` are needed, as upstream's RBAC grants.
    ///
    /// Why not server-side apply after the POST: kube-apiserver keys field managers by name *and* operation, so
    /// the POST's fields belong to (manager, Update) and a later Apply under the same name conflicts on every
    /// changed value (kubernetes/kubernetes#107417). Forcing that apply would fix the conflict but not removal:
    /// a key dropped from the SecretSync stays, still owned by the POST's Update entry (apply never prunes a field
    /// another manager owns). An Update-type patch under the same manager never conflicts with itself and sets
    /// `data`, `labels` and `annotations` to exactly what the SecretSync says (the Secret is generated from it;
    /// edits by others are overwritten at the next change, as drift repair does). `type` is set by the create
    /// (Kubernetes makes it immutable).
    func writeSecret(_ sync: SecretSync, data: [String: Data], mayBeAbsent: Bool) async throws {
        // A reconcile still running when leadership ended must not write: the new leader owns the Secrets now.
        try Task.checkCancellation()
        let object = sync.spec.secretObject
        let name = sync.metadata.name ?? "", namespace = sync.metadata.namespace ?? "", uid = sync.metadata.uid ?? ""
        var labels = object.labels ?? [:]
        labels[SecretSync.managedLabel] = ""
        let annotations = object.annotations ?? [:]
        if mayBeAbsent {
            let owner = OwnerReference(apiVersion: SecretSync.resourceKind.apiVersion, kind: "SecretSync", name: name, uid: uid)
            let secret = Secret(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels, annotations: annotations.isEmpty ? nil : annotations,
                                                     ownerReferences: [owner]), type: object.type ?? "Opaque", data: data)
            do {
                _ = try await client.create(secret, fieldManager: configuration.fieldManager)
                await statistics.secretWritten()
                return
            } catch let error as KubernetesError where error.isAlreadyExists {
                // Ours from an earlier run whose status write was lost, or someone else's: the patch's test decides.
            } catch let error as KubernetesError {
                throw SyncFailure(.controllerSyncFailed, "creating Secret \(namespace)/\(name) failed: \(error)")
            }
        }
        let operations: [JSONValue] = [
            ["op": "test", "path": "/metadata/ownerReferences/0/uid", "value": .string(uid)],
            ["op": "add", "path": "/metadata/labels", "value": .object(labels.mapValues { .string($0) })],
            ["op": "add", "path": "/metadata/annotations", "value": .object(annotations.mapValues { .string($0) })],
            ["op": "add", "path": "/data", "value": .object(data.mapValues { .string($0.base64EncodedString()) })],
        ]
        do {
            _ = try await client.patch(Secret.self, name: name, namespace: namespace, .json(operations), fieldManager: configuration.fieldManager)
            await statistics.secretWritten()
        } catch let error as KubernetesError where error.isNotFound && !mayBeAbsent {
            // Deleted behind the controller's back since it last wrote: create it again.
            try await writeSecret(sync, data: data, mayBeAbsent: true)
        } catch let error as KubernetesError where error.code == 422 {
            throw SyncFailure(.invalidClusterSecretLabelError, "Secret \(namespace)/\(name) already exists and is not owned by this SecretSync (no ownerReference to SecretSync \(name) uid \(uid)); akvs never overwrites it: delete or rename that Secret, or give the SecretSync another name")
        } catch let error as KubernetesError {
            throw SyncFailure(.controllerSyncFailed, "writing Secret \(namespace)/\(name) failed: \(error)")
        }
    }

    /// PUT status with the informer's resourceVersion; false when it was stale (the caller retries).
    func writeStatus(_ sync: SecretSync, _ status: SecretSync.Status) async throws -> Bool {
        try Task.checkCancellation()
        var updated = sync
        updated.status = status
        do {
            _ = try await client.updateStatus(updated, fieldManager: configuration.fieldManager)
            await statistics.statusWritten()
            return true
        } catch let error as KubernetesError where error.isConflict {
            return false
        } catch let error as KubernetesError where error.isNotFound {
            return true
        }
    }
}
