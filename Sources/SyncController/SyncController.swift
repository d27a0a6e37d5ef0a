import AzureProvider
import Crypto
import Foundation
import KeyVault
import Kubernetes
import Logging
import SecretsStoreAPI
import Serving

/// The SecretSync controller (the Secret Store extension's role): informers on SecretSyncs and
/// SecretProviderClasses, a de-duplicating work queue, bounded workers, per-SecretSync refresh schedules.
public struct SyncController: Sendable {
    public let client: KubernetesClient
    public let source: any SecretSource
    public let configuration: SyncConfiguration
    public let statistics: SyncStatistics
    /// The Key Vault limiters whose request budget use is exported as metrics.
    public var vaultLimiters: VaultLimiters?
    let hashKey: SymmetricKey
    let logger: Logger

    /// `hashKey` keys the change-detection HMAC; keep it stable across restarts (see `HashKeyStore`) so an
    /// unchanged Secret is not rewritten after a restart.
    public init(client: KubernetesClient, source: any SecretSource, configuration: SyncConfiguration = .init(), hashKey: SymmetricKey,
                statistics: SyncStatistics = SyncStatistics(), logger: Logger = Logger(label: "akvs.sync-controller")) {
        self.client = client; self.source = source; self.configuration = configuration; self.hashKey = hashKey
        self.statistics = statistics; self.logger = logger
    }

    /// Runs until cancelled.
    public func run() async {
        let syncs = Informer<SecretSync>(client: client, logger: logger)
        let classes = Informer<SecretProviderClass>(client: client, logger: logger)
        let queue = WorkQueue<String>(rateLimiter: .init(baseDelay: .seconds(1), maxDelay: min(configuration.pollInterval, .seconds(300))))
        let memory = SyncMemory()
        let circuits = VaultCircuits(threshold: configuration.circuitBreakerThreshold, cooldown: configuration.circuitBreakerCooldown)
        let reconciler = SecretSyncReconciler(
            client: client, syncs: syncs, classes: classes, source: source, hasher: SyncHasher(key: hashKey),
            tokens: TokenProvider(client: client), events: EventRecorder(client: client, controller: configuration.controllerName, instance: configuration.instance),
            memory: memory, circuits: circuits,
            statistics: statistics, configuration: configuration, logger: logger, groups: GroupedFetches(window: configuration.groupWindow),
            expiry: ExpiryWarnings(within: configuration.expiryWarning))
        let syncEvents = await syncs.events()
        let classEvents = await classes.events()
        let akvSyncs = Informer<AKVSync>(client: client, logger: logger)
        let akvEvents = await akvSyncs.events()
        let akvQueue = WorkQueue<String>(rateLimiter: .init(baseDelay: .seconds(1), maxDelay: .seconds(300)))
        let akvReconciler = AKVSyncReconciler(client: client, akvSyncs: akvSyncs, classes: classes, syncs: syncs,
                                              events: EventRecorder(client: client, controller: configuration.controllerName, instance: configuration.instance),
                                              configuration: configuration, logger: logger)
        let configuration = self.configuration
        let vaultLimiters = self.vaultLimiters
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await syncs.run() }
            group.addTask { await classes.run() }
            group.addTask { await akvSyncs.run() }
            if configuration.driftRepair {
                let secrets = Informer<Secret>(client: client, labelSelector: SecretSync.managedLabel, logger: logger)
                let secretEvents = await secrets.events()
                group.addTask { await secrets.run() }
                group.addTask {
                    for await event in secretEvents {
                        let (secret, deleted): (Secret, Bool)
                        switch event {
                        case .added: continue
                        case .updated(_, let new): (secret, deleted) = (new, false)
                        case .deleted(let old): (secret, deleted) = (old, true)
                        }
                        guard let owner = secret.metadata.ownerReferences?.first(where: { $0.kind == "SecretSync" }),
                              let sync = await syncs.get(namespace: secret.metadata.namespace, name: owner.name), sync.metadata.uid == owner.uid,
                              sync.metadata.deletionTimestamp == nil else { continue }
                        let last = await memory.data(owner.uid)
                        if deleted || last == nil || secret.data ?? [:] != last! || secret.metadata.labels?[SecretSync.managedLabel] == nil {
                            await memory.markDrifted(owner.uid)
                            await queue.addUrgent(sync.key)
                        }
                    }
                }
            }
            group.addTask {
                for await event in akvEvents {
                    switch event {
                    case .added(let a): await akvQueue.add(a.key)
                    case .updated(let old, let new) where old.metadata.generation != new.metadata.generation: await akvQueue.add(new.key)
                    case .updated, .deleted: break
                    }
                }
            }
            group.addTask {
                await syncs.waitForSync(); await classes.waitForSync(); await akvSyncs.waitForSync()
                while let key = await akvQueue.next() {
                    let ready = await akvReconciler.reconcile(key)
                    let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                    let series = LastAttemptMetrics.Key(kind: "AKVSync", namespace: parts.count == 2 ? parts[0] : "", name: parts.last ?? key)
                    if await akvSyncs.get(key) == nil { self.statistics.attempts.remove(series) } else { self.statistics.attempts.record(series, success: ready) }
                    if ready { await akvQueue.forget(key) } else { await akvQueue.addRateLimited(key) }
                    await akvQueue.done(key)
                }
            }
            group.addTask {
                await syncs.waitForSync()
                await classes.waitForSync()
                // After a restart each SecretSync is due where its own schedule says, not all at once.
                let now = Date()
                for sync in await syncs.list() {
                    await queue.add(sync.key, after: Self.initialDelay(sync, configuration: configuration, now: now))
                }
                await withTaskGroup(of: Void.self) { workers in
                    for _ in 0..<max(1, configuration.workers) {
                        workers.addTask { await Self.work(queue: queue, reconciler: reconciler, syncs: syncs, configuration: configuration) }
                    }
                }
            }
            let statistics = self.statistics
            group.addTask {
                // Gauges: queue depth, and how long the oldest never-synced SecretSync has waited.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    let now = Date()
                    let oldest = await syncs.list().filter { ($0.status?.syncHash ?? "").isEmpty }
                        .compactMap { $0.metadata.creationTimestamp.flatMap(APITime.parse) }.map { now.timeIntervalSince($0) }.max() ?? 0
                    await statistics.gauges(queueDepth: await queue.depth, oldestUnsyncedSeconds: oldest)
                    if let limiters = vaultLimiters { await statistics.budget(await limiters.budgetUse()) }
                    await statistics.circuits(await circuits.openStates)
                }
            }
            group.addTask {
                for await event in syncEvents {
                    switch event {
                    // New SecretSyncs and spec edits go ahead of periodic refreshes.
                    case .added(let sync) where (sync.status?.syncHash ?? "").isEmpty: await queue.addUrgent(sync.key)
                    case .added: break // already synced (seen again after a relist); its schedule stands
                    // Spec edits (incl. forceSynchronization) bump generation; status-only updates do not requeue.
                    case .updated(let old, let new) where old.metadata.generation != new.metadata.generation: await queue.addUrgent(new.key)
                    case .updated: break
                    case .deleted(let sync): await memory.forget(sync.metadata.uid ?? "")
                    }
                }
            }
            group.addTask {
                for await event in classEvents {
                    // Unlike upstream, an SPC edit resyncs its SecretSyncs now rather than at the next poll.
                    guard case .updated(let old, let new) = event, old.metadata.generation != new.metadata.generation || old.spec != new.spec else { continue }
                    for sync in await syncs.list(namespace: new.metadata.namespace) where sync.spec.secretProviderClassName == new.metadata.name {
                        await queue.addUrgent(sync.key)
                    }
                }
            }
            await withTaskCancellationHandler {
                await group.next()
            } onCancel: {
                Task { await queue.shutdown(); await akvQueue.shutdown() }
            }
            group.cancelAll()
        }
    }

    static func work(queue: WorkQueue<String>, reconciler: SecretSyncReconciler, syncs: Informer<SecretSync>, configuration: SyncConfiguration) async {
        // Cancelled (leadership lost, shutdown): stop at once instead of draining the queue, or a deposed leader
        // keeps writing next to the new one (found by the chaos run: 10 s of writes after the lease was lost).
        while !Task.isCancelled, let key = await queue.next() {
            let outcome = await reconciler.reconcile(key)
            switch outcome {
            case .synced, .repaired:
                await queue.forget(key)
                let spread = await syncs.get(key).map(SyncConfiguration.scheduleKey) ?? key
                await queue.add(key, after: configuration.refreshDelay(key: spread))
            case .failed:
                await queue.addRateLimited(key)
            case .retry:
                await queue.add(key, after: .milliseconds(100))
            case .gone:
                await queue.forget(key)
            }
            await queue.done(key)
        }
    }

    /// Never-synced SecretSyncs, those past their schedule and those edited since their last success (e.g. while
    /// no controller ran) go at once; others wait for their own due time.
    static func initialDelay(_ sync: SecretSync, configuration: SyncConfiguration, now: Date) -> Duration {
        guard let last = sync.status?.lastSuccessfulSyncTime, let lastDate = APITime.parse(last), !(sync.status?.syncHash ?? "").isEmpty,
              let conditions = sync.status?.conditions, conditions.allSatisfy({ $0.status == "True" }),
              conditions.contains(where: { $0.observedGeneration == sync.metadata.generation }) else { return .zero }
        let due = lastDate.addingTimeInterval(seconds(configuration.refreshDelay(key: SyncConfiguration.scheduleKey(sync))))
        let wait = due.timeIntervalSince(now)
        return wait > 0 ? .milliseconds(Int(wait * 1000)) : .zero
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}

/// The change-detection key, kept in a Secret in the controller's namespace so it survives restarts.
public enum HashKeyStore {
    /// Reads the key, or creates it; transient API failures (5xx, 429, unreachable) are retried with a capped
    /// backoff until cancelled, so a replica starting during an API server hiccup waits instead of exiting
    /// (found by the chaos run: every start during a burst of 500s crashed).
    public static func loadOrCreate(client: KubernetesClient, namespace: String, name: String = "akvs-sync-controller-hash-key",
                                    initialBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(15)) async throws -> SymmetricKey {
        var backoff = initialBackoff
        while true {
            do {
                return try await loadOrCreateOnce(client: client, namespace: namespace, name: name)
            } catch let error as KubernetesError where error.isTransient {
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, maxBackoff)
            }
        }
    }

    static func loadOrCreateOnce(client: KubernetesClient, namespace: String, name: String) async throws -> SymmetricKey {
        do {
            let secret = try await client.get(Secret.self, name: name, namespace: namespace)
            if let key = secret.data?["key"], key.count == 32 { return SymmetricKey(data: key) }
        } catch let error as KubernetesError where error.isNotFound {}
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        do {
            _ = try await client.create(Secret(metadata: ObjectMeta(name: name, namespace: namespace), data: ["key": data]))
            return key
        } catch let error as KubernetesError where error.isAlreadyExists {
            // Another replica made it first: use theirs.
            let secret = try await client.get(Secret.self, name: name, namespace: namespace)
            guard let stored = secret.data?["key"], stored.count == 32 else { throw KubernetesError.invalidResponse("Secret \(namespace)/\(name) has no 32-byte 'key'") }
            return SymmetricKey(data: stored)
        }
    }
}
