#if canImport(Glibc)
import Glibc
#endif
import AtomicWriter
import AzureProvider
import Crypto
import Foundation
import Serving
import Kubernetes
import Logging
import ProviderClient
import SecretsStoreAPI

/// NodePublishVolume and NodeUnpublishVolume as the upstream driver (v1.6) does them: read the pod's
/// SecretProviderClass, call its provider, mount a tmpfs and write the files atomically, record the pod
/// status, sync `secretObjects`; on republish (rotation) re-run the provider once the poll interval has
/// passed and keep the old content on failure.
public struct NodePublisher: Sendable {
    public let configuration: DriverConfiguration
    let client: KubernetesClient
    let providers: ProviderClients
    /// Providers served in this process by name (`azure` with `--azure-provider in-process`); the rest over their sockets.
    let inProcess: [String: any InProcessProvider]
    let mounter: Mounter
    let metrics: DriverMetrics
    let events: EventRecorder
    let volumes = VolumeRegistry()
    let podStatuses: PodStatusWriter
    let secrets: SecretObjectSync
    let expiry: ExpiryWarnings
    let logger: Logger

    public init(configuration: DriverConfiguration, client: KubernetesClient, providers: ProviderClients, inProcess: [String: any InProcessProvider] = [:],
                metrics: DriverMetrics, logger: Logger = Logger(label: "akvs.csi-driver")) {
        self.configuration = configuration
        self.client = client
        self.providers = providers
        self.inProcess = inProcess
        self.mounter = Mounter(mountTmpfs: configuration.mountTmpfs)
        self.metrics = metrics
        self.events = EventRecorder(client: client, controller: configuration.eventSource, instance: configuration.nodeID, logger: logger)
        self.expiry = ExpiryWarnings(within: configuration.expiryWarning)
        self.podStatuses = PodStatusWriter(client: client, nodeID: configuration.nodeID)
        self.secrets = SecretObjectSync(client: client)
        self.logger = logger
    }

    /// Serves one NodePublishVolume. Throws only on a first mount; a failed republish keeps the old content.
    public func publish(_ request: PublishRequest) async throws(PublishError) {
        try request.validate()
        let target = request.targetPath
        let result: Result<Void, PublishError> = await volumes.withLock(target) {
            do { try await publishLocked(request) } catch let error as PublishError { return .failure(error) } catch {
                return .failure(.mount("\(error)"))
            }
            return .success(())
        }
        try result.get()
    }

    private func publishLocked(_ request: PublishRequest) async throws(PublishError) {
        let target = request.targetPath
        let mounted = mounter.isMountPoint(target)
        if mounted {
            // Already mounted: without rotation there is nothing to do; with it, the provider is asked again only
            // once the poll interval has passed since the last change (directory mtime) or the last check.
            guard configuration.enableSecretRotation, await due(target) else { return }
        }
        let start = ContinuousClock.now
        let pod = try? PodVolume(volumeContext: request.volumeContext)
        let series = pod.map { LastAttemptMetrics.Key(kind: "SecretProviderClass", namespace: $0.namespace, name: $0.secretProviderClass) }
        do {
            let (provider, changed) = try await mountAndWrite(request, mounted: mounted)
            if mounted { metrics.rotation(provider: provider, rotated: changed, seconds: DriverMetrics.seconds(since: start)) }
            else { metrics.nodePublish(provider: provider) }
            if let series { metrics.attempts.record(series, success: true) }
        } catch let error {
            if let series { metrics.attempts.record(series, success: false) }
            let provider = await volumes.volume(target)?.provider ?? ""
            if mounted {
                // As upstream (kubernetes/kubernetes#121271): report success so kubelet keeps the pod running on the old content.
                metrics.rotationError(provider: provider, errorType: error.errorType)
                await volumes.update(target) { $0.lastCheck = .now }
                logger.warning("republish failed; the mounted files are unchanged", metadata: ["target": "\(target)", "error": "\(error)"])
                if let pod = try? PodVolume(volumeContext: request.volumeContext) {
                    await events.record(.warning, regarding: podReference(pod), reason: "MountRotationFailed", action: "Rotate",
                                        note: "rotation of SecretProviderClass \(pod.secretProviderClass) failed, the mounted files are unchanged: \(error)")
                }
                return
            }
            metrics.nodePublishError(provider: provider, errorType: error.errorType)
            throw error
        }
    }

    /// Whether a mounted volume is due for a provider call.
    func due(_ target: String) async -> Bool {
        let interval = configuration.rotationPollInterval
        if let last = await volumes.volume(target)?.lastCheck, ContinuousClock.now - last < interval { return false }
        var st = stat()
        guard stat(target, &st) == 0 else { return true }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        let age = Date().timeIntervalSince1970 - mtime
        return age >= Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
    }

    /// Everything after the request checks; returns the provider name and whether any file changed.
    private func mountAndWrite(_ request: PublishRequest, mounted: Bool) async throws(PublishError) -> (String, Bool) {
        let target = request.targetPath
        let pod = try PodVolume(volumeContext: request.volumeContext)
        let spc = try await secretProviderClass(pod)
        let (provider, parameters) = try PodVolume.usableClass(spc, namespace: pod.namespace, name: pod.secretProviderClass)
        try PodVolume.requireReadOnly(request.readOnly)

        var attributes = parameters
        attributes.merge(request.volumeContext) { _, new in new }
        // kubelet's tokens (in the request's secrets with serviceAccountTokenInSecrets) win over a volume attribute of
        // the same name, which the pod's author could set.
        if let tokens = request.secrets[PodVolume.serviceAccountTokens] {
            attributes[PodVolume.serviceAccountTokens] = tokens
        }
        if mounted, provider == "azure" {
            // A rotation must not be answered from a provider cache older than the rotation interval.
            let interval = configuration.rotationPollInterval.components
            attributes[AzureProvider.maxObjectAgeAttribute] = String(Double(interval.seconds) + Double(interval.attoseconds) / 1e18)
        }
        var mountedNow = false
        if !mounted {
            do { try mounter.mount(at: target) } catch { throw .mount(error.description) }
            mountedNow = true
        }
        do {
            let reply = try await callProvider(provider, attributes: attributes, secrets: request.secrets, target: target)
            let changed = try write(reply.files, to: target)
            let objects = reply.objectVersions.map { SecretProviderClassPodStatus.ObjectVersion(id: $0.id, version: $0.version) }
            try await remember(pod: pod, provider: provider, target: target, objects: objects)
            if configuration.syncSecrets, !(spc.spec.secretObjects ?? []).isEmpty {
                let files = reply.files.isEmpty ? currentFiles(target) : Dictionary(reply.files.map { ($0.path, $0.contents) }, uniquingKeysWith: { a, _ in a })
                await syncSecrets(spc: spc, pod: pod, target: target, files: files, rotated: mounted && changed)
            }
            if mounted && changed {
                await events.record(.normal, regarding: podReference(pod), reason: "MountRotationComplete", action: "Rotate",
                                    note: "the mounted contents of SecretProviderClass \(pod.secretProviderClass) were updated")
            }
            await warnOfExpiry(pod: pod, target: target, reply: reply, vault: parameters["keyvaultName"] ?? "")
            return (provider, changed)
        } catch {
            if mountedNow {
                // A first mount that failed leaves nothing behind: kubelet retries from scratch.
                try? mounter.unmount(target)
                rmdir(target)
            }
            throw error
        }
    }

    private func callProvider(_ provider: String, attributes: [String: String], secrets: [String: String], target: String) async throws(PublishError) -> ProviderMountResult {
        do {
            if let builtIn = inProcess[provider] { return try await builtIn.mount(attributes: attributes, secrets: secrets, mode: 0o644) }
            return try await providers.mount(provider: provider, attributes: attributes, secrets: secrets, targetPath: target)
        } catch {
            throw .provider(error)
        }
    }

    private func secretProviderClass(_ pod: PodVolume) async throws(PublishError) -> SecretProviderClass {
        do {
            return try await client.get(SecretProviderClass.self, name: pod.secretProviderClass, namespace: pod.namespace)
        } catch let error as KubernetesError where error.isNotFound {
            throw .spcNotFound(namespace: pod.namespace, name: pod.secretProviderClass, reason: "not found")
        } catch {
            throw .spcNotFound(namespace: pod.namespace, name: pod.secretProviderClass, reason: "\(error)")
        }
    }

    /// Writes the provider's files atomically; returns whether anything changed.
    private func write(_ files: [ProviderFile], to target: String) throws(PublishError) -> Bool {
        // No files: a provider that still writes into target_path itself (pre-v0.0.21 contract).
        guard !files.isEmpty else { return true }
        let writer = AtomicWriter(target: URL(fileURLWithPath: target))
        do {
            switch try writer.write(files.map { AtomicWriter.File(path: $0.path, mode: $0.mode, contents: $0.contents) }) {
            case .unchanged: return false
            case .written: return true
            }
        } catch {
            switch error {
            case .invalidPath(let p): throw .invalidFile(path: p, reason: "paths must be relative, without '..', '.', empty elements or NUL")
            case .duplicatePath(let p): throw .invalidFile(path: p, reason: "given twice, or as both a file and a folder")
            case .invalidMode(let p, let m): throw .invalidFile(path: p, reason: "mode \(String(m, radix: 8)) is not between 0000 and 0777")
            default: throw .write(error.description)
            }
        }
    }

    /// Records the pod status when the object versions changed (or on first publish) and remembers the volume.
    private func remember(pod: PodVolume, provider: String, target: String, objects: [SecretProviderClassPodStatus.ObjectVersion]) async throws(PublishError) {
        let versions = Dictionary(objects.map { ($0.id, $0.version) }, uniquingKeysWith: { a, _ in a })
        if let known = await volumes.volume(target), known.objects == versions, known.podStatusUID != nil {
            await volumes.update(target) { $0.lastCheck = .now }
            return
        }
        let status = try await podStatuses.record(pod: pod, targetPath: target, objects: objects)
        let previous = await volumes.volume(target)
        await volumes.store(target, VolumeRegistry.Volume(provider: provider, podStatusName: pod.podStatusName, namespace: pod.namespace,
                                                          secretProviderClass: pod.secretProviderClass, podStatusUID: status.metadata.uid, objects: versions, lastCheck: .now,
                                                          syncedDigest: previous?.syncedDigest, retry: previous?.retry))
    }

    /// A Warning on the pod's SecretProviderClassPodStatus for each mounted object that expires within
    /// `--expiry-warning`: once per object version and day, never per republish.
    func warnOfExpiry(pod: PodVolume, target: String, reply: ProviderMountResult, vault: String) async {
        guard !reply.expirations.isEmpty, let volume = await volumes.volume(target) else { return }
        let versions = Dictionary(reply.objectVersions.map { ($0.id, $0.version) }, uniquingKeysWith: { a, _ in a })
        let status = ObjectReference(apiVersion: SecretProviderClassPodStatus.resourceKind.apiVersion, kind: "SecretProviderClassPodStatus",
                                     name: volume.podStatusName, namespace: pod.namespace, uid: volume.podStatusUID)
        for (id, expires) in reply.expirations.sorted(by: { $0.key < $1.key }) {
            guard let note = await expiry.warning(owner: "\(pod.namespace)/\(volume.podStatusName)", object: id, version: versions[id] ?? "", vault: vault,
                                                  validity: ObjectValidity(expires: expires)) else { continue }
            await events.record(.warning, regarding: status, reason: "ObjectExpiring", action: "Mount", note: note)
        }
    }

    // MARK: Secret sync

    /// Syncs `secretObjects` unless these exact files were synced already; failures raise events and are retried
    /// in the background with backoff, without failing the mount (as upstream, whose sync runs apart from mounts).
    func syncSecrets(spc: SecretProviderClass, pod: PodVolume, target: String, files: [String: [UInt8]], rotated: Bool) async {
        let failures = await applySecretObjects(spc: spc, pod: pod, target: target, files: files) { desired, outcome in
            if outcome == .updated, rotated {
                await events.record(.normal, regarding: podReference(pod), reason: "SecretRotationComplete", action: "SyncSecret",
                                    note: "Secret \(pod.namespace)/\(desired.name) was updated from SecretProviderClass \(pod.secretProviderClass)")
            }
        }
        if failures.isEmpty {
            await volumes.update(target) { $0.retry?.cancel(); $0.retry = nil }
            return
        }
        for failure in failures {
            logger.warning("secret sync failed", metadata: ["secret": "\(pod.namespace)/\(failure.secretName)", "error": "\(failure.reason)"])
            await events.record(.warning, regarding: podReference(pod), reason: "FailedToCreateSecret", action: "SyncSecret", note: failure.reason)
        }
        await scheduleRetry(spc: spc, pod: pod, target: target)
    }

    /// Applies every Secret of `spc` from `files`, owned by the volume's pod status; remembers the input digest when all
    /// succeeded (and forgets it otherwise), so identical input is not applied twice. Returns the failures.
    private func applySecretObjects(spc: SecretProviderClass, pod: PodVolume, target: String, files: [String: [UInt8]],
                                    applied: (SecretObjectSync.Desired, SecretObjectSync.Outcome) async -> Void = { _, _ in }) async -> [SecretObjectSync.Failure] {
        let digest = Self.digest(files, spc: spc)
        guard let volume = await volumes.volume(target), volume.syncedDigest != digest, let ownerUID = volume.podStatusUID else { return [] }
        let owner = OwnerReference(apiVersion: SecretProviderClassPodStatus.resourceKind.apiVersion, kind: SecretProviderClassPodStatus.resourceKind.kind,
                                   name: pod.podStatusName, uid: ownerUID)
        var failures: [SecretObjectSync.Failure] = []
        for built in SecretObjectSync.desired(spc, files: files) {
            let start = ContinuousClock.now
            switch built {
            case .failure(let failure): failures.append(failure)
            case .success(let desired):
                do {
                    let outcome = try await secrets.apply(desired, namespace: pod.namespace, owner: owner)
                    metrics.syncSecret(provider: spc.spec.provider ?? "", seconds: DriverMetrics.seconds(since: start))
                    await applied(desired, outcome)
                } catch { failures.append(error) }
            }
        }
        await volumes.update(target) { $0.syncedDigest = failures.isEmpty ? digest : nil }
        return failures
    }

    private func scheduleRetry(spc: SecretProviderClass, pod: PodVolume, target: String) async {
        if await volumes.volume(target)?.retry != nil { return }  // one retry loop per volume
        let first = configuration.secretSyncRetryDelay
        let task = Task { [self] in
            var delay = first
            while !Task.isCancelled {
                try? await Task.sleep(for: delay)
                if Task.isCancelled { return }
                let done: Bool = await volumes.withLock(target) {
                    guard await volumes.volume(target) != nil else { return true }
                    // The SPC is read again (an edit may be the fix), and the files as mounted now (never from memory).
                    let current = (try? await client.get(SecretProviderClass.self, name: pod.secretProviderClass, namespace: pod.namespace)) ?? spc
                    _ = await applySecretObjects(spc: current, pod: pod, target: target, files: currentFiles(target))
                    return await volumes.volume(target)?.syncedDigest != nil
                }
                if done { break }
                delay = min(delay * 2, .seconds(300))
            }
            await volumes.update(target) { $0.retry = nil }
        }
        await volumes.update(target) { $0.retry?.cancel(); $0.retry = task }
    }

    func currentFiles(_ target: String) -> [String: [UInt8]] {
        let files = AtomicWriter(target: URL(fileURLWithPath: target)).currentFiles() ?? [:]
        return files.mapValues(\.contents)
    }

    /// Identifies the synced input (files and the SPC's secretObjects) without keeping any value.
    static func digest(_ files: [String: [UInt8]], spc: SecretProviderClass) -> String {
        var hasher = SHA256()
        for (path, contents) in files.sorted(by: { $0.key < $1.key }) {
            hasher.update(data: Array(path.utf8) + [0])
            hasher.update(data: SHA256.hash(data: contents).map { $0 })
        }
        if let objects = spc.spec.secretObjects, let encoded = try? JSONEncoder().encode(objects) { hasher.update(data: encoded) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Unpublish

    /// Serves one NodeUnpublishVolume: unmount, remove the target, delete the pod status. Idempotent.
    public func unpublish(volumeID: String, targetPath: String) async throws(PublishError) {
        guard !volumeID.isEmpty else { throw .invalidRequest("Volume ID missing in request") }
        try PublishRequest.validateTarget(targetPath)
        let result: Result<Void, PublishError> = await volumes.withLock(targetPath) {
            do { try await unpublishLocked(targetPath) } catch let error as PublishError { return .failure(error) } catch { return .failure(.mount("\(error)")) }
            return .success(())
        }
        switch result {
        case .success: metrics.nodeUnpublish()
        case .failure(let error):
            metrics.nodeUnpublishError(errorType: error.errorType)
            throw error
        }
    }

    private func unpublishLocked(_ target: String) async throws(PublishError) {
        let known = await volumes.remove(target)
        var st = stat()
        if lstat(target, &st) == 0 {
            // Only a real directory is cleaned: a symlink planted at the target is removed, never followed.
            if (st.st_mode & S_IFMT) == S_IFLNK {
                unlink(target)
            } else if (st.st_mode & S_IFMT) == S_IFDIR {
                if mounter.isMountPoint(target) {
                    do { try mounter.unmount(target) } catch { throw .mount(error.description) }
                }
                if !mounter.isMountPoint(target) {
                    for entry in (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? [] {
                        try? FileManager.default.removeItem(atPath: (target as NSString).appendingPathComponent(entry))
                    }
                    rmdir(target)
                }
            }
        }
        if let known {
            try await podStatuses.delete(name: known.podStatusName, namespace: known.namespace)
            // The class's last-attempt series stay while a volume on this node still mounts it.
            if !known.secretProviderClass.isEmpty, !(await volumes.mounts(namespace: known.namespace, secretProviderClass: known.secretProviderClass)) {
                metrics.attempts.remove(LastAttemptMetrics.Key(kind: "SecretProviderClass", namespace: known.namespace, name: known.secretProviderClass))
            }
        } else {
            for status in await podStatuses.find(targetPath: target) {
                try await podStatuses.delete(name: status.metadata.name ?? "", namespace: status.metadata.namespace ?? "")
            }
        }
    }

    // MARK: Helpers

    func podReference(_ pod: PodVolume) -> ObjectReference {
        ObjectReference(apiVersion: "v1", kind: "Pod", name: pod.name, namespace: pod.namespace, uid: pod.uid)
    }

}
