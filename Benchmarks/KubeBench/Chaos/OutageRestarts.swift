import CSIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// The fault "vault outage while pods restart": a vault goes down and a pod of each of its two restart classes is
/// replaced (unpublish, then a new pod's publish), as a rollout or a node drain does. Invariant: the pod of the class
/// with `akvs.io/serve-stale-on-outage` starts within kubelet's retry window with content no older than the limit;
/// the pod of the class without it gets no content while the outage lasts. After the outage both start fresh.
actor OutageRestarts {
    /// The serve-stale limit of the stale classes.
    static let limit = Duration.seconds(600)
    /// How long kubelet keeps retrying a mount before the pod is reported stuck (its back-off reaches ~2 min).
    static let window = Duration.seconds(60)

    let world: ChaosWorld
    let kubelet: ChaosKubelet
    let ledger: ChaosLedger
    let recorder: ChaosRecorder
    /// How long after an outage begins the provider's shared cache may still answer (its TTL, plus a margin).
    let providerCache: Duration
    private var generation = 0
    /// The pod currently mounted per restart class (its target), so a restart replaces it.
    private var mounted: [String: (pod: String, target: String)] = [:]

    init(world: ChaosWorld, kubelet: ChaosKubelet, ledger: ChaosLedger, recorder: ChaosRecorder, providerCache: Duration) {
        self.world = world; self.kubelet = kubelet; self.ledger = ledger; self.recorder = recorder; self.providerCache = providerCache
    }

    /// Before the faults: one pod of every restart class mounts once, so the node has content to serve.
    func prepare() async throws {
        for restart in world.restartClasses {
            var done = false
            for _ in 0..<30 where !done {
                done = await replace(restart) == nil
                if !done { try await Task.sleep(for: .seconds(1)) }
            }
            guard done else { throw BenchError("restart class \(restart.name) could not be mounted before the faults") }
        }
    }

    /// Runs the fault on `vault` for `duration` seconds; `setOutage` turns the vault's outage knob on and off.
    func run(vault: String, duration: Int, setOutage: @Sendable (Bool) async -> Void) async {
        let id = await recorder.begin(.vaultOutageRestarts, detail: "\(vault) for \(duration) s, a pod of each restart class replaced", vault: vault)
        await setOutage(true)
        let end = ContinuousClock.now + .seconds(duration)
        // The provider's shared results (its --object-cache-ttl) may answer the first seconds: that is no stale serving.
        try? await Task.sleep(for: providerCache)
        for restart in world.restartClasses where restart.vault == vault {
            await check(restart, outageUntil: end)
        }
        try? await Task.sleep(until: end)
        await setOutage(false)
        await recorder.end(id)
        // After the outage every pod starts, with current content (the next replacement shows it).
        for restart in world.restartClasses where restart.vault == vault {
            if let error = await replaceWithinWindow(restart) { await recorder.violation(.outageRestarts, "restart class \(restart.name): no mount within \(Int(seconds(Self.window))) s after the outage of \(vault): \(error)") }
        }
    }

    /// Replaces the class's pod until a mount succeeds or the window ends, as kubelet retries a failed mount with
    /// back-off (a process fault, driver or provider down, may need a retry); the last error, nil on success. Counted.
    private func replaceWithinWindow(_ restart: ChaosWorld.RestartClass) async -> String? {
        var error: String? = "not tried"
        let deadline = ContinuousClock.now + Self.window
        while error != nil, ContinuousClock.now < deadline {
            error = await replace(restart)
            if error != nil { try? await Task.sleep(for: .seconds(2)) }
        }
        await recorder.checked(.outageRestarts)
        return error
    }

    private func check(_ restart: ChaosWorld.RestartClass, outageUntil end: ContinuousClock.Instant) async {
        if restart.serveStale {
            if let error = await replaceWithinWindow(restart) {
                // Access lost or an object disabled at the same time must not be answered with stale content.
                if await accessFaultActive(restart.vault) { await recorder.note("stale class not served: access or object fault on its vault at the same time (correct)"); return }
                await recorder.violation(.outageRestarts, "restart class \(restart.name) (serve stale \(Int(seconds(Self.limit))) s): no mount within \(Int(seconds(Self.window))) s of the outage: \(error)")
                return
            }
            await checkContent(restart)
        } else {
            // Tried while the outage is surely on; a success would be content the class never allowed.
            guard ContinuousClock.now + .seconds(2) < end else { return }
            let error = await replace(restart)
            await recorder.checked(.outageRestarts)
            guard ContinuousClock.now < end else { return }
            if error == nil {
                await recorder.violation(.outageRestarts, "restart class \(restart.name) (no serve-stale): a pod got content during the outage of \(restart.vault)")
            } else if let target = mounted[restart.name]?.target, (try? FileManager.default.contentsOfDirectory(atPath: target))?.isEmpty == false {
                await recorder.violation(.outageRestarts, "restart class \(restart.name): a failed mount left files at \(target)")
            }
        }
    }

    /// Every file holds a value the vault had, superseded no longer ago than the limit.
    private func checkContent(_ restart: ChaosWorld.RestartClass) async {
        guard let target = mounted[restart.name]?.target else { return }
        for object in restart.objects {
            let name = world.objects[object].name
            guard let data = FileManager.default.contents(atPath: target + "/" + name), let gen = await ledger.generation(of: data, object: object, pem: nil) else {
                await recorder.violation(.outageRestarts, "restart class \(restart.name): file \(name) missing or not a value the vault had")
                continue
            }
            let behind = await ledger.staleness(object: object, gen: gen, now: .now)
            if behind > Self.limit {
                await recorder.violation(.outageRestarts, String(format: "restart class %@: file %@ served %.0f s behind the vault (limit %.0f s)", restart.name, name, seconds(behind), seconds(Self.limit)))
            }
        }
    }

    private func accessFaultActive(_ vault: String) async -> Bool {
        await recorder.activeFaults().contains { ($0.kind == .identityLoss && $0.vault == vault) || $0.kind == .disabledVersion }
    }

    /// Replaces the class's pod: unpublishes the current one, publishes a new pod (new name and uid, new target).
    /// Returns the publish error, or nil.
    private func replace(_ restart: ChaosWorld.RestartClass) async -> String? {
        if let current = mounted.removeValue(forKey: restart.name) { await kubelet.unpublish(target: current.target, volumeID: "csi-\(current.pod)") }
        generation += 1
        let pod = "\(restart.name)-\(generation)"
        let target = kubelet.root.appendingPathComponent("pods/\(pod)/volumes/kubernetes.io~csi/secrets/mount").path
        mounted[restart.name] = (pod, target)
        return await kubelet.publish(pod: pod, namespace: restart.namespace, spc: restart.name, target: target)
    }

    /// After the run: every restart pod unpublished.
    func unpublishAll() async {
        for (_, current) in mounted { await kubelet.unpublish(target: current.target, volumeID: "csi-\(current.pod)") }
        mounted = [:]
    }
}
