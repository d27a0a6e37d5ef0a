import Foundation
import Kubernetes
import Logging
import SecretsStoreAPI
import StructuredJSON

/// Settings of `akvs restarter`.
public struct RestarterConfiguration: Sendable {
    /// `--restart-debounce`: changes within this window after the first give one restart (per workload:
    /// `akvs.io/restart-debounce`).
    public var debounce: Duration = .seconds(30)
    /// `--max-concurrent-restarts`: restarts whose rollouts may run at once, cluster-wide; the rest wait.
    public var maxConcurrentRestarts = 10
    /// How often a held-back restart looks again (a rollout finishing, a slot freeing).
    public var recheck: Duration = .seconds(5)
    /// A restart's rollout that has not finished after this long no longer takes a slot.
    public var rolloutTimeout: Duration = .seconds(600)
    /// The reporting controller of Events.
    public var eventSource = "akvs-restarter"
    public var instance = ProcessInfo.processInfo.hostName

    public init() {}
}

/// A workload by kind, namespace and name.
public struct WorkloadID: Hashable, Sendable, CustomStringConvertible {
    public var kind: WorkloadKind
    public var namespace: String
    public var name: String
    public var description: String { "\(kind.rawValue) \(namespace)/\(name)" }
}

/// Restarts annotated Deployments, StatefulSets and DaemonSets (Reloader's annotations) once per change of the
/// Secrets' data or of the object versions their SecretProviderClasses mount: debounced, never during the previous
/// rollout, never a paused Deployment, at most `maxConcurrentRestarts` rollouts at once. The inputs a restart was
/// for are recorded on the workload (`akvs.io/restart-inputs`), so a restart of the controller, a failover or a
/// repeated event never restarts twice for the same data. Only annotated workloads are kept; Secrets (as digests,
/// never values) and pod statuses are watched once the first annotated workload exists.
public actor RestartController {
    let client: KubernetesClient
    let configuration: RestarterConfiguration
    let metrics: RestartMetrics
    let events: EventRecorder
    let logger: Logger
    let deployments: Informer<DeploymentWorkload>
    let statefulSets: Informer<StatefulSetWorkload>
    let daemonSets: Informer<DaemonSetWorkload>
    let secrets: Informer<SecretDigest>
    let statuses: Informer<SecretProviderClassPodStatus>

    /// Per class (`namespace/name`): the digest of the object versions its mounts last rotated to.
    private var rotated: [String: String] = [:]
    private var pending: [WorkloadID: Pending] = [:]
    /// Workloads restarted whose rollout has not finished: the generation the restart made, and when.
    private var inFlight: [WorkloadID: (generation: Int64, since: ContinuousClock.Instant)] = [:]
    /// The inputs a paused Deployment was told about (one Event per change).
    private var pausedNotified: [WorkloadID: String] = [:]
    private var dependents: AsyncStream<Void>.Continuation?

    struct Pending {
        var changed: Set<Input>
        var task: Task<Void, Never>
    }

    public init(client: KubernetesClient, configuration: RestarterConfiguration = RestarterConfiguration(), metrics: RestartMetrics,
                logger: Logger = Logger(label: "akvs.restarter")) {
        self.client = client
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.events = EventRecorder(client: client, controller: configuration.eventSource, instance: configuration.instance, logger: logger)
        let annotated: @Sendable (any Workload) -> Bool = { Triggers.wanted($0.metadata.annotations) }
        deployments = Informer(client: client, keep: { annotated($0) }, logger: logger)
        statefulSets = Informer(client: client, keep: { annotated($0) }, logger: logger)
        daemonSets = Informer(client: client, keep: { annotated($0) }, logger: logger)
        secrets = Informer(client: client, logger: logger)
        statuses = Informer(client: client, logger: logger)
    }

    /// Watches and restarts until cancelled.
    public func run() async {
        let (wanted, signal) = AsyncStream<Void>.makeStream()
        dependents = signal
        let streams = (await deployments.events(), await statefulSets.events(), await daemonSets.events())
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.deployments.run() }
            group.addTask { await self.statefulSets.run() }
            group.addTask { await self.daemonSets.run() }
            group.addTask { for await event in streams.0 { await self.workloadChanged(event.workload) } }
            group.addTask { for await event in streams.1 { await self.workloadChanged(event.workload) } }
            group.addTask { for await event in streams.2 { await self.workloadChanged(event.workload) } }
            group.addTask {
                // Secrets and pod statuses only once a workload asks for restarts: an unannotated cluster costs nothing.
                var iterator = wanted.makeAsyncIterator()
                guard await iterator.next() != nil else { return }
                await self.watchDependents()
            }
        }
        for (_, p) in pending { p.task.cancel() }
        pending = [:]
    }

    private func watchDependents() async {
        let secretEvents = await secrets.events(), statusEvents = await statuses.events()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.secrets.run() }
            group.addTask { await self.statuses.run() }
            group.addTask {
                for await event in secretEvents { await self.secretChanged(event) }
            }
            group.addTask {
                for await event in statusEvents { await self.statusChanged(event) }
            }
            group.addTask {
                // Once both caches hold everything, every workload is judged (recorded baselines, changes while down).
                await self.secrets.waitForSync()
                await self.statuses.waitForSync()
                await self.evaluateAll()
            }
        }
    }

    // MARK: events

    func workloadChanged(_ change: (id: WorkloadID, deleted: Bool)) async {
        if change.deleted {
            pending.removeValue(forKey: change.id)?.task.cancel()
            inFlight[change.id] = nil
            pausedNotified[change.id] = nil
        } else {
            dependents?.yield()
            dependents?.finish()
            dependents = nil
            await evaluate(change.id)
        }
        await publishGauges()
    }

    func secretChanged(_ event: InformerEvent<SecretDigest>) async {
        let secret: SecretDigest
        switch event {
        case .added(let s): secret = s
        case .updated(let old, let new):
            guard old.digest != new.digest else { return }
            secret = new
        case .deleted: return
        }
        await evaluate(namespace: secret.metadata.namespace ?? "", using: .secret(secret.metadata.name ?? ""))
    }

    func statusChanged(_ event: InformerEvent<SecretProviderClassPodStatus>) async {
        // A rotation: a pod's mount recorded other object versions than before (a new pod's first mount is none).
        guard case .updated(let old, let new) = event, let before = old.status?.objects, !before.isEmpty,
              let after = new.status?.objects, !after.isEmpty, ClassVersions.digest(before) != ClassVersions.digest(after),
              let className = new.status?.secretProviderClassName else { return }
        let namespace = new.metadata.namespace ?? ""
        rotated["\(namespace)/\(className)"] = ClassVersions.digest(after)
        await evaluate(namespace: namespace, using: .secretProviderClass(className))
    }

    private func evaluate(namespace: String, using input: Input) async {
        for id in await workloads(in: namespace) {
            guard let (workload, triggers) = await cached(id), triggers.inputs(workload.references).contains(input) else { continue }
            await evaluate(id)
        }
    }

    private func evaluateAll() async {
        for id in await workloads(in: nil) { await evaluate(id) }
    }

    private func workloads(in namespace: String?) async -> [WorkloadID] {
        func ids<W: Workload>(_ items: [W]) -> [WorkloadID] {
            items.map { WorkloadID(kind: W.workloadKind, namespace: $0.metadata.namespace ?? "", name: $0.metadata.name ?? "") }
        }
        return ids(await deployments.list(namespace: namespace)) + ids(await statefulSets.list(namespace: namespace)) + ids(await daemonSets.list(namespace: namespace))
    }

    /// The cached workload's facts and triggers; nil when it is gone or no longer annotated.
    private func cached(_ id: WorkloadID) async -> (CachedWorkload, Triggers)? {
        let found: CachedWorkload?
        switch id.kind {
        case .deployment: found = await deployments.get(namespace: id.namespace, name: id.name).map(CachedWorkload.init)
        case .statefulSet: found = await statefulSets.get(namespace: id.namespace, name: id.name).map(CachedWorkload.init)
        case .daemonSet: found = await daemonSets.get(namespace: id.namespace, name: id.name).map(CachedWorkload.init)
        }
        guard let found, let triggers = Triggers(annotations: found.annotations) else { return nil }
        return (found, triggers)
    }

    // MARK: deciding

    /// The digests of the inputs a workload watches, as known now (an input not known yet is left out).
    private func current(_ workload: CachedWorkload, _ triggers: Triggers) async -> [Input: String] {
        var inputs: [Input: String] = [:]
        for input in triggers.inputs(workload.references) {
            switch input {
            case .secret(let name): inputs[input] = await secrets.get(namespace: workload.id.namespace, name: name)?.digest
            case .secretProviderClass(let name): inputs[input] = rotated["\(workload.id.namespace)/\(name)"]
            }
        }
        return inputs
    }

    /// Inputs whose data changed since they were recorded. A Secret seen for the first time is no change (it is
    /// recorded); a class's first rotation is one (its versions are only known from rotations).
    static func changes(recorded: [Input: String], current: [Input: String]) -> Set<Input> {
        Set(current.compactMap { input, digest in
            guard recorded[input] != digest else { return nil }
            if case .secret = input, recorded[input] == nil { return nil }
            return input
        })
    }

    func evaluate(_ id: WorkloadID) async {
        guard await secrets.hasSynced, await statuses.hasSynced else { return }
        guard let (workload, triggers) = await cached(id) else {
            pending.removeValue(forKey: id)?.task.cancel()
            return
        }
        pruneInFlight(id, workload)
        let now = await current(workload, triggers)
        let recorded = RecordedInputs.decode(workload.annotations[Triggers.inputsAnnotation])
        let changed = Self.changes(recorded: recorded ?? [:], current: now)
        guard !changed.isEmpty else {
            pending.removeValue(forKey: id)?.task.cancel()
            // Record what is known and not recorded yet (no restart): the baseline later changes are judged against.
            var baseline = (recorded ?? [:]).filter { triggers.inputs(workload.references).contains($0.key) }
            baseline.merge(now) { old, _ in old }
            if recorded == nil || baseline != recorded { await record(workload, baseline) }
            return
        }
        if var waiting = pending[id] {
            if !changed.isSubset(of: waiting.changed) { metrics.debounced() }
            waiting.changed.formUnion(changed)
            pending[id] = waiting
            return
        }
        schedule(id, changed, after: triggers.debounce ?? configuration.debounce)
    }

    private func schedule(_ id: WorkloadID, _ changed: Set<Input>, after delay: Duration) {
        if var existing = pending[id] {
            // Already due (scheduled while this one awaited): one restart covers both.
            existing.changed.formUnion(changed)
            pending[id] = existing
            return
        }
        let task = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.fire(id)
        }
        pending[id] = Pending(changed: changed, task: task)
    }

    func fire(_ id: WorkloadID) async {
        let waiting = pending.removeValue(forKey: id)
        defer { Task { await publishGauges() } }
        guard let (workload, triggers) = await cached(id) else { return }
        let now = await current(workload, triggers)
        let recorded = RecordedInputs.decode(workload.annotations[Triggers.inputsAnnotation]) ?? [:]
        let changed = Self.changes(recorded: recorded, current: now)
        guard !changed.isEmpty else { return }  // it changed back
        let because = changed.union(waiting?.changed ?? []).intersection(changed)
        if workload.paused {
            metrics.waited(.paused)
            let fingerprint = RecordedInputs.fingerprint(now)
            if pausedNotified[id] != fingerprint {
                pausedNotified[id] = fingerprint
                await events.record(.normal, regarding: workload.reference, reason: "RestartPaused", action: "Restart",
                                    note: "not restarted while paused: \(await describe(because, namespace: id.namespace)); it restarts once when resumed if the change still stands")
            }
            return
        }
        pruneInFlight(id, workload)
        if workload.rolloutInProgress {
            metrics.waited(.rollout)
            schedule(id, because, after: configuration.recheck)
            return
        }
        if inFlight[id] == nil, inFlight.count >= configuration.maxConcurrentRestarts { await pruneAllInFlight() }
        if inFlight[id] == nil, inFlight.count >= configuration.maxConcurrentRestarts {
            metrics.waited(.limit)
            schedule(id, because, after: configuration.recheck)
            return
        }
        // The slot is taken before the write: another restart due meanwhile (actor reentrancy) sees it taken.
        inFlight[id] = ((workload.generation ?? 0) + 1, .now)
        await restart(workload, inputs: (recorded.filter { triggers.inputs(workload.references).contains($0.key) }).merging(now) { _, new in new },
                      because: because)
    }

    /// Frees the slots of every restart whose rollout the caches show finished (its own event may have come first).
    private func pruneAllInFlight() async {
        for id in Array(inFlight.keys) {
            if let (workload, _) = await cached(id) { pruneInFlight(id, workload) } else { inFlight[id] = nil }
        }
    }

    private func pruneInFlight(_ id: WorkloadID, _ workload: CachedWorkload) {
        guard let flight = inFlight[id] else { return }
        let finished = (workload.generation ?? 0) >= flight.generation && !workload.rolloutInProgress
        if finished || ContinuousClock.now - flight.since > configuration.rolloutTimeout { inFlight[id] = nil }
    }

    // MARK: writing

    /// `kubectl rollout restart`'s patch (the pod template's `restartedAt`), with which inputs it was for, and the
    /// inputs recorded on the workload; conditional on the resourceVersion the decision was made on.
    private func restart(_ workload: CachedWorkload, inputs: [Input: String], because: Set<Input>) async {
        let id = workload.id
        let time = APITime.string(Date())
        let patch: JSONValue = .object([
            "metadata": .object(["resourceVersion": .string(workload.resourceVersion),
                                 "annotations": .object([Triggers.inputsAnnotation: .string(RecordedInputs.encode(inputs))])]),
            "spec": .object(["template": .object(["metadata": .object(["annotations": .object([
                Triggers.restartedAt: .string(time), Triggers.restartedFor: .string(RecordedInputs.fingerprint(inputs))])])])]),
        ])
        do {
            let updated = try await client.patch(id.kind.resourceKind, name: id.name, namespace: id.namespace, .merge(patch))
            let generation = (updated[path: ["metadata", "generation"]]?.numberValue).map { Int64($0) } ?? (workload.generation ?? 0) + 1
            inFlight[id] = (generation, .now)
            // The watch may have delivered the patched workload (and a finished rollout) while the patch returned.
            if let (now, _) = await cached(id) { pruneInFlight(id, now) }
            pausedNotified[id] = nil
            metrics.restarted(kind: id.kind, namespace: id.namespace, name: id.name)
            let why = await describe(because, namespace: id.namespace)
            logger.info("restarted", metadata: ["workload": "\(id)", "because": "\(why)"])
            await events.record(.normal, regarding: workload.reference, reason: "Restarted", action: "Restart", note: "Restarted: \(why)")
        } catch let error as KubernetesError where error.isConflict {
            // Someone changed it meanwhile: judge again on what the cache shows next.
            inFlight[id] = nil
            schedule(id, because, after: .seconds(1))
        } catch let error as KubernetesError where error.isNotFound {
            inFlight[id] = nil
        } catch {
            inFlight[id] = nil
            logger.warning("restart failed; retrying", metadata: ["workload": "\(id)", "error": "\(error)"])
            schedule(id, because, after: configuration.recheck)
        }
    }

    /// Records inputs on the workload without restarting it (no pod template change, so no rollout).
    private func record(_ workload: CachedWorkload, _ inputs: [Input: String]) async {
        let patch: JSONValue = .object(["metadata": .object([
            "resourceVersion": .string(workload.resourceVersion),
            "annotations": .object([Triggers.inputsAnnotation: .string(RecordedInputs.encode(inputs))]),
        ])])
        do { _ = try await client.patch(workload.id.kind.resourceKind, name: workload.id.name, namespace: workload.id.namespace, .merge(patch)) } catch {
            // A conflict or a missing workload: the next event judges again.
            logger.debug("recording inputs failed", metadata: ["workload": "\(workload.id)", "error": "\(error)"])
        }
    }

    /// `Secret db-creds changed (synced by SecretSync db-creds); SecretProviderClass vault rotated`: names, never values.
    private func describe(_ inputs: Set<Input>, namespace: String) async -> String {
        var parts: [String] = []
        for input in inputs.sorted() {
            switch input {
            case .secret(let name):
                let owner = await secrets.get(namespace: namespace, name: name)?.metadata.ownerReferences?.first
                let behind = switch owner?.kind {
                case "SecretSync": " (synced by SecretSync \(owner?.name ?? ""))"
                case "SecretProviderClassPodStatus": " (synced from a secrets-store CSI volume's secretObjects)"
                default: ""
                }
                parts.append("Secret \(name) changed\(behind)")
            case .secretProviderClass(let name):
                parts.append("SecretProviderClass \(name) rotated (its volumes mount new object versions)")
            }
        }
        return parts.joined(separator: "; ")
    }

    private func publishGauges() async {
        metrics.gauges(watched: await deployments.count + statefulSets.count + daemonSets.count, pending: pending.count)
    }
}

/// What the controller needs of a cached workload, whatever its kind.
struct CachedWorkload: Sendable {
    var id: WorkloadID
    var annotations: [String: String]
    var generation: Int64?
    var resourceVersion: String
    var uid: String?
    var references: WorkloadBody.References
    var paused: Bool
    var rolloutInProgress: Bool

    init<W: Workload>(_ workload: W) {
        id = WorkloadID(kind: W.workloadKind, namespace: workload.metadata.namespace ?? "", name: workload.metadata.name ?? "")
        annotations = workload.metadata.annotations ?? [:]
        generation = workload.metadata.generation
        resourceVersion = workload.metadata.resourceVersion ?? ""
        uid = workload.metadata.uid
        references = workload.body.references
        paused = W.workloadKind == .deployment && workload.body.paused
        rolloutInProgress = workload.body.rolloutInProgress(kind: W.workloadKind, generation: workload.metadata.generation)
    }

    var reference: ObjectReference {
        ObjectReference(apiVersion: id.kind.resourceKind.apiVersion, kind: id.kind.rawValue, name: id.name, namespace: id.namespace, uid: uid)
    }
}

extension InformerEvent where T: Workload {
    /// The workload an event is about, and whether it left the cache.
    var workload: (id: WorkloadID, deleted: Bool) {
        switch self {
        case .added(let w), .updated(_, let w): (WorkloadID(kind: T.workloadKind, namespace: w.metadata.namespace ?? "", name: w.metadata.name ?? ""), false)
        case .deleted(let w): (WorkloadID(kind: T.workloadKind, namespace: w.metadata.namespace ?? "", name: w.metadata.name ?? ""), true)
        }
    }
}
