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
    /// The last good content of each mount, for classes that serve it during an outage.
    let lastGood: StaleContentStore
    /// SecretProviderClasses (cluster-wide) and this node's pods, from watches: the publish path reads them without a
    /// request, and a refresh asked for on either is seen at the next republish. A miss (not synced yet) reads the API.
    public let classes: Informer<SecretProviderClass>
    public let pods: Informer<PodMetadata>
    let secretChecks = SecretCheckSchedule()
    let logger: Logger

    static let servedStaleAnnotation = "akvs.io/served-stale"
    static let missingOptionalAnnotation = "akvs.io/missing-optional-objects"

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
        self.lastGood = StaleContentStore(directory: configuration.staleStoreDirectory, maxBytes: configuration.staleStoreMaxBytes)
        self.classes = Informer<SecretProviderClass>(client: client, logger: logger)
        self.pods = Informer<PodMetadata>(client: client, fieldSelector: "spec.nodeName=\(configuration.nodeID)", logger: logger)
        self.podStatuses = PodStatusWriter(client: client, nodeID: configuration.nodeID)
        self.secrets = SecretObjectSync(client: client)
        self.logger = logger
    }

    /// Keeps the SecretProviderClass and pod caches current until cancelled.
    public func watch() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await classes.run() }
            if configuration.watchPods { group.addTask { await pods.run() } }
        }
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
            // Already mounted: the provider is asked again only when something is owed (stale content to replace, a
            // refresh asked for) or, with rotation, once the interval has passed since the last change or check.
            guard await due(target, volumeContext: request.volumeContext) else {
                await keepSecretsRight(request)
                return
            }
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
                if case .provider(let call) = error, call.isOutage, let pod {
                    // The pod goes on with content the vault could not confirm: counted as served stale.
                    metrics.servedStale(namespace: pod.namespace, secretProviderClass: pod.secretProviderClass)
                }
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

    /// Whether a mounted volume is due for a provider call: stale content to replace, a refresh asked for on the
    /// class or the pod since the last call, or (with rotation, or the class's own interval) the interval passed.
    func due(_ target: String, volumeContext: [String: String] = [:]) async -> Bool {
        let volume = await volumes.volume(target)
        if volume?.stale == true { return true }
        if let volume, let pod = try? PodVolume(volumeContext: volumeContext) {
            if let spc = await classes.get(namespace: pod.namespace, name: pod.secretProviderClass),
               let requested = (try? ClassSettings(spc, driverServeStale: .zero))?.refreshRequestedAt, requested != volume.classRefresh { return true }
            if let requested = await pods.get(namespace: pod.namespace, name: pod.name)?.metadata.annotations?[ClassSettings.refreshKey],
               !requested.isEmpty, requested != volume.podRefresh { return true }
        }
        guard configuration.enableSecretRotation || volume?.rotationInterval != nil else { return false }
        let interval = volume?.rotationInterval ?? configuration.rotationPollInterval
        if let last = volume?.lastCheck, ContinuousClock.now - last < interval { return false }
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
        let settings = try ClassSettings(spc, driverServeStale: configuration.serveStaleOnOutage)
        let previous = await volumes.volume(target)
        let podRefresh = await pods.get(namespace: pod.namespace, name: pod.name)?.metadata.annotations?[ClassSettings.refreshKey].flatMap { $0.isEmpty ? nil : $0 }
        let refreshing = (settings.refreshRequestedAt != nil && settings.refreshRequestedAt != previous?.classRefresh)
            || (podRefresh != nil && podRefresh != previous?.podRefresh)

        var attributes = parameters
        attributes.merge(request.volumeContext) { _, new in new }
        // kubelet's tokens (in the request's secrets with serviceAccountTokenInSecrets) win over a volume attribute of
        // the same name, which the pod's author could set.
        if let tokens = request.secrets[PodVolume.serviceAccountTokens] {
            attributes[PodVolume.serviceAccountTokens] = tokens
        }
        if provider == "azure", mounted || refreshing {
            // A rotation must not be answered from a provider cache older than the interval; a refresh reads the vault.
            let interval = (settings.rotationInterval ?? configuration.rotationPollInterval).components
            attributes[AzureProvider.maxObjectAgeAttribute] = refreshing ? "0" : String(Double(interval.seconds) + Double(interval.attoseconds) / 1e18)
        }
        // The key (a digest of the attributes and credentials) only for classes that keep their last good content.
        let staleKey = settings.serveStale == .zero ? "" : StaleContentStore.key(provider: provider, namespace: pod.namespace, classUID: spc.metadata.uid ?? "", generation: Int(spc.metadata.generation ?? 0),
                                             attributes: attributes, serviceAccount: pod.serviceAccount ?? "", secrets: request.secrets)
        var mountedNow = false
        if !mounted {
            do { try mounter.mount(at: target) } catch { throw .mount(error.description) }
            mountedNow = true
        }
        do throws(PublishError) {
            var served: (reply: ProviderMountResult, staleAge: TimeInterval?, outage: String?)
            do throws(PublishError) {
                let reply = try await callProvider(provider, attributes: attributes, secrets: request.secrets, target: target)
                if settings.serveStale > .zero { await lastGood.save(staleKey, reply: reply, limit: settings.serveStale) }
                served = (reply, nil, nil)
            } catch {
                // A first mount during an outage gets the last good content, if the class allows it and the node has it.
                guard !mounted, settings.serveStale > .zero, case .provider(let call) = error, call.isOutage,
                      let saved = await lastGood.load(staleKey) else { throw error }
                served = (saved.entry.reply, saved.age, call.description)
            }
            let reply = served.reply
            let changed = try write(reply.files, to: target)
            let objects = reply.objectVersions.map { SecretProviderClassPodStatus.ObjectVersion(id: $0.id, version: $0.version) }
            let absent = provider == "azure" ? Self.missingOptional(parameters: attributes, delivered: reply.objectVersions.map(\.id)) : []
            let missing = absent.map { "\($0.objectType.rawValue)/\($0.objectName)" }
            var annotations: [String: String] = [:]
            if let age = served.staleAge { annotations[Self.servedStaleAnnotation] = "content fetched \(Self.age(age)) ago, served because \(Self.summary(served.outage ?? ""))" }
            if !missing.isEmpty { annotations[Self.missingOptionalAnnotation] = missing.joined(separator: ", ") }
            try await remember(pod: pod, provider: provider, target: target, objects: objects, annotations: annotations)
            await volumes.update(target) { volume in
                volume.stale = served.staleAge != nil
                volume.rotationInterval = settings.rotationInterval
                if served.staleAge == nil { volume.classRefresh = settings.refreshRequestedAt; volume.podRefresh = podRefresh }
                volume.absentFiles = Set(absent.flatMap(\.filePaths))
            }
            if configuration.syncSecrets, !(spc.spec.secretObjects ?? []).isEmpty {
                let files = reply.files.isEmpty ? currentFiles(target) : Dictionary(reply.files.map { ($0.path, $0.contents) }, uniquingKeysWith: { a, _ in a })
                await syncSecrets(spc: spc, pod: pod, target: target, files: files, rotated: mounted && changed)
            }
            await reportPublish(pod: pod, previous: previous, served: served.staleAge, outage: served.outage, missing: missing,
                                refreshed: refreshing && served.staleAge == nil, rotated: mounted && changed)
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

    /// The Events and metrics of a publish: content served stale (Warning, counted), stale content replaced, a refresh
    /// done, optional objects missing (when that set changes), a rotation.
    private func reportPublish(pod: PodVolume, previous: VolumeRegistry.Volume?, served staleAge: TimeInterval?, outage: String?, missing: [String],
                               refreshed: Bool, rotated: Bool) async {
        let about = podReference(pod)
        let name = pod.secretProviderClass
        if let staleAge {
            metrics.servedStale(namespace: pod.namespace, secretProviderClass: name)
            await events.record(.warning, regarding: about, reason: "MountServedStale", action: "Mount",
                                note: "the vault could not be reached (\(Self.summary(outage ?? ""))): SecretProviderClass \(name) was mounted from the last good content on this node, fetched \(Self.age(staleAge)) ago; it is replaced as soon as the vault answers")
        } else if previous?.stale == true {
            await events.record(.normal, regarding: about, reason: "MountRefreshedAfterOutage", action: "Mount",
                                note: "the vault answered again: SecretProviderClass \(name)'s content is current")
        }
        if !missing.isEmpty, previous?.annotations[Self.missingOptionalAnnotation] != missing.joined(separator: ", ") {
            await events.record(.warning, regarding: about, reason: "OptionalObjectMissing", action: "Mount",
                                note: "optional objects of SecretProviderClass \(name) are missing or disabled in the vault and have no file: \(missing.joined(separator: ", ")); the file appears when the object does")
        }
        if refreshed {
            await events.record(.normal, regarding: about, reason: "MountRefreshed", action: "Refresh",
                                note: "SecretProviderClass \(name) was read from the vault past every cache, as akvs.io/refresh-requested-at asked")
        }
        if rotated {
            await events.record(.normal, regarding: about, reason: "MountRotationComplete", action: "Rotate",
                                note: "the mounted contents of SecretProviderClass \(name) were updated")
        }
    }

    /// The optional objects of an Azure class that delivered no version: missing or disabled in the vault.
    static func missingOptional(parameters: [String: String], delivered: [String]) -> [KeyVaultObject] {
        // Parsing `objects` again costs a YAML parse per publish: only a class that names `optional` can miss one.
        guard let text = parameters["objects"], text.contains("optional"), let objects = try? KeyVaultObject.parseList(text) else { return [] }
        let ids = Set(delivered)
        return objects.filter(\.optional).filter { object in
            let id = "\(object.objectType.rawValue)/\(object.objectName)"
            return !ids.contains(id) && !ids.contains(id + "/0")
        }
    }

    /// `3h12m`, `45s`: how old content is, for messages.
    static func age(_ seconds: TimeInterval) -> String {
        let total = Int(seconds.rounded())
        if total < 120 { return "\(total)s" }
        if total < 7200 { return "\(total / 60)m" }
        return total % 3600 / 60 == 0 ? "\(total / 3600)h" : "\(total / 3600)h\(total % 3600 / 60)m"
    }

    /// The kind of outage of a provider error, for messages (the class summary an akvs provider puts first).
    static func summary(_ message: String) -> String {
        if let open = message.range(of: ProviderError.mountPrefix + "["), let close = message[open.upperBound...].firstIndex(of: "]") {
            return String(message[open.upperBound..<close])
        }
        return "Key Vault unreachable"
    }

    private func callProvider(_ provider: String, attributes: [String: String], secrets: [String: String], target: String) async throws(PublishError) -> ProviderMountResult {
        do throws(ProviderCallError) {
            if let builtIn = inProcess[provider] {
                return try await Self.bounded(configuration.providerTimeout, provider: provider) { () async throws(ProviderCallError) -> ProviderMountResult in
                    try await builtIn.mount(attributes: attributes, secrets: secrets, mode: 0o644)
                }
            }
            return try await providers.mount(provider: provider, attributes: attributes, secrets: secrets, targetPath: target)
        } catch {
            throw .provider(error)
        }
    }

    /// An in-process provider call within `timeout`, as a socket provider's call is: a mount fails within kubelet's
    /// timeout (2 minutes) instead of hanging; a call that does not answer in time is a vault outage.
    static func bounded(_ timeout: Duration, provider: String,
                        _ call: @escaping @Sendable () async throws(ProviderCallError) -> ProviderMountResult) async throws(ProviderCallError) -> ProviderMountResult {
        let outcome = await withTaskGroup(of: Result<ProviderMountResult, ProviderCallError>?.self) { group in
            group.addTask {
                do throws(ProviderCallError) { return .success(try await call()) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let outcome else {
            throw .call(provider: provider, code: "DeadlineExceeded", message: "no answer within \(timeout)", outage: true)
        }
        return try outcome.get()
    }

    /// The pod's class from the watch cache, without a request: a miss waits briefly for a class created a moment ago
    /// (or, right after a start, for the first sync); kubelet retries a mount that still finds none.
    private func secretProviderClass(_ pod: PodVolume) async throws(PublishError) -> SecretProviderClass {
        let synced = await classes.hasSynced
        if let found = await classes.get(namespace: pod.namespace, name: pod.secretProviderClass,
                                         waitingUpTo: synced ? configuration.classWatchLag : configuration.classCacheSync) {
            return found
        }
        let reason = await classes.hasSynced ? "not found"
            : "not found: the driver's watch of SecretProviderClasses has not synced (check its access to the API server: list and watch secretproviderclasses)"
        throw .spcNotFound(namespace: pod.namespace, name: pod.secretProviderClass, reason: reason)
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
    private func remember(pod: PodVolume, provider: String, target: String, objects: [SecretProviderClassPodStatus.ObjectVersion],
                          annotations: [String: String] = [:]) async throws(PublishError) {
        let versions = Dictionary(objects.map { ($0.id, $0.version) }, uniquingKeysWith: { a, _ in a })
        if let known = await volumes.volume(target), known.objects == versions, known.podStatusUID != nil, known.annotations == annotations {
            await volumes.update(target) { $0.lastCheck = .now }
            return
        }
        let status = try await podStatuses.record(pod: pod, targetPath: target, objects: objects, annotations: annotations)
        let previous = await volumes.volume(target)
        var volume = VolumeRegistry.Volume(provider: provider, podStatusName: pod.podStatusName, namespace: pod.namespace,
                                           secretProviderClass: pod.secretProviderClass, podStatusUID: status.metadata.uid, objects: versions, lastCheck: .now,
                                           syncedDigest: previous?.syncedDigest, retry: previous?.retry)
        volume.annotations = annotations
        volume.stale = previous?.stale ?? false
        volume.rotationInterval = previous?.rotationInterval
        volume.classRefresh = previous?.classRefresh
        volume.podRefresh = previous?.podRefresh
        await volumes.store(target, volume)
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
        guard let volume = await volumes.volume(target), volume.syncedDigest != digest, volume.podStatusUID != nil else { return [] }
        // Every pod status of the class on this node owns the Secrets: a Secret recreated by one volume is owned by all.
        let owners = await volumes.owners(namespace: pod.namespace, secretProviderClass: pod.secretProviderClass).map { status in
            OwnerReference(apiVersion: SecretProviderClassPodStatus.resourceKind.apiVersion, kind: SecretProviderClassPodStatus.resourceKind.kind,
                           name: status.name, uid: status.uid)
        }
        var failures: [SecretObjectSync.Failure] = []
        for built in SecretObjectSync.desired(spc, files: files, absent: volume.absentFiles) {
            let start = ContinuousClock.now
            switch built {
            case .failure(let failure): failures.append(failure)
            case .success(let desired):
                do {
                    let outcome = try await secrets.apply(desired, namespace: pod.namespace, owners: owners)
                    metrics.syncSecret(provider: spc.spec.provider ?? "", seconds: DriverMetrics.seconds(since: start))
                    await applied(desired, outcome)
                } catch { failures.append(error) }
            }
        }
        await volumes.update(target) { $0.syncedDigest = failures.isEmpty ? digest : nil }
        return failures
    }

    /// A republish that calls no provider still keeps the class's Secrets right: at once when its `secretObjects`
    /// changed (keys, type, labels), else at most every `secretCheckInterval` per class on this node (a Secret deleted
    /// under running pods is recreated and owned by each of them again). Reads the mounted files, never the vault.
    private func keepSecretsRight(_ request: PublishRequest) async {
        let target = request.targetPath
        guard configuration.syncSecrets, let pod = try? PodVolume(volumeContext: request.volumeContext),
              let spc = await classes.get(namespace: pod.namespace, name: pod.secretProviderClass), !(spc.spec.secretObjects ?? []).isEmpty,
              await volumes.volume(target)?.podStatusUID != nil else { return }
        guard await secretChecks.due("\(pod.namespace)/\(pod.secretProviderClass)", shape: Self.digest([:], spc: spc), every: configuration.secretCheckInterval) else { return }
        await volumes.update(target) { $0.syncedDigest = nil }
        await syncSecrets(spc: spc, pod: pod, target: target, files: currentFiles(target), rotated: false)
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
                    let current = await classes.get(namespace: pod.namespace, name: pod.secretProviderClass) ?? spc
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
        return lowercaseHex(hasher.finalize())
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
            await retainSecrets(namespace: known.namespace, secretProviderClass: known.secretProviderClass, statusUID: known.podStatusUID)
            try await podStatuses.delete(name: known.podStatusName, namespace: known.namespace, uid: known.podStatusUID)
            // The class's last-attempt series stay while a volume on this node still mounts it.
            if !known.secretProviderClass.isEmpty, !(await volumes.mounts(namespace: known.namespace, secretProviderClass: known.secretProviderClass)) {
                metrics.attempts.remove(LastAttemptMetrics.Key(kind: "SecretProviderClass", namespace: known.namespace, name: known.secretProviderClass))
            }
        } else {
            for status in await podStatuses.find(targetPath: target) {
                await retainSecrets(namespace: status.metadata.namespace ?? "", secretProviderClass: status.status?.secretProviderClassName ?? "",
                                    statusUID: status.metadata.uid)
                try await podStatuses.delete(name: status.metadata.name ?? "", namespace: status.metadata.namespace ?? "", uid: status.metadata.uid)
            }
        }
    }

    /// For a class with `akvs.io/retain-secret: "true"`, the going volume's pod status stops owning the class's
    /// Secrets before it is deleted, and the last owner leaves them retained (labelled, owned by nothing).
    private func retainSecrets(namespace: String, secretProviderClass: String, statusUID: String?) async {
        guard configuration.syncSecrets, let statusUID, !secretProviderClass.isEmpty else { return }
        guard let spc = await classes.get(namespace: namespace, name: secretProviderClass, waitingUpTo: configuration.classWatchLag),
              (try? ClassSettings(spc, driverServeStale: .zero))?.retainSecret == true else { return }
        for name in Set((spc.spec.secretObjects ?? []).compactMap(\.secretName)).sorted() {
            do { try await secrets.release(name, namespace: namespace, ownerUID: statusUID) } catch {
                logger.warning("retaining a synced Secret failed", metadata: ["secret": "\(namespace)/\(name)", "error": "\(error)"])
            }
        }
    }

    // MARK: Helpers

    func podReference(_ pod: PodVolume) -> ObjectReference {
        ObjectReference(apiVersion: "v1", kind: "Pod", name: pod.name, namespace: pod.namespace, uid: pod.uid)
    }

}
