import Foundation

/// Applies and reverts faults. Faults of one target combine (the knobs are one settings object per vault
/// and one for the API server), so overlapping faults each keep their effect until they end.
actor FaultInjector {
    struct Targets: Sendable {
        var emulatorAdmin: String
        var testServer: String
        var apiToken: String
        var issuer: String
        var provider: ManagedProcess
        var driver: ManagedProcess
        var controllers: [ManagedProcess]
    }

    let targets: Targets
    let world: ChaosWorld
    let http: ChaosHTTP
    let recorder: ChaosRecorder
    let writer: ChaosWriter
    let controllerWatch: ControllerWatch
    let restarts: OutageRestarts
    private var vaultActive: [String: [FaultKind: Int]] = [:]
    private var apiActive: [FaultKind: Int] = [:]
    private var tokenActive = 0
    private var identityRemoved: [ChaosIdentity: [String: Int]] = [:]
    private var busyProcesses: Set<String> = []
    private var disabled: Set<Int> = []

    init(targets: Targets, world: ChaosWorld, http: ChaosHTTP, recorder: ChaosRecorder, writer: ChaosWriter, controllerWatch: ControllerWatch,
         restarts: OutageRestarts) {
        self.targets = targets; self.world = world; self.http = http; self.recorder = recorder; self.writer = writer; self.controllerWatch = controllerWatch
        self.restarts = restarts
    }

    private func setOutage(_ vault: String, kind: FaultKind, _ on: Bool) async {
        vaultActive[vault, default: [:]][kind, default: 0] += on ? 1 : -1
        await pushVault(vault)
    }

    /// Runs one planned fault to its end (process faults: until the process is back and ready).
    func run(_ fault: PlannedFault) async {
        let vault = ChaosWorld.vaults[fault.choice % 2]
        switch fault.kind {
        case .vaultOutage, .vaultThrottle, .vaultErrors, .vaultLatency:
            let id = await recorder.begin(fault.kind, detail: "\(vault) for \(fault.duration) s", vault: vault)
            vaultActive[vault, default: [:]][fault.kind, default: 0] += 1
            await pushVault(vault)
            try? await Task.sleep(for: .seconds(fault.duration))
            vaultActive[vault, default: [:]][fault.kind, default: 0] -= 1
            await pushVault(vault)
            await recorder.end(id)
        case .vaultOutageRestarts:
            await restarts.run(vault: vault, duration: fault.duration) { on in await self.setOutage(vault, kind: .vaultOutageRestarts, on) }
        case .tokenEndpoint:
            let id = await recorder.begin(fault.kind, detail: "all token requests 503 for \(fault.duration) s")
            tokenActive += 1
            await pushToken()
            try? await Task.sleep(for: .seconds(fault.duration))
            tokenActive -= 1
            await pushToken()
            await recorder.end(id)
        case .disabledVersion:
            let object = fault.choice % world.objects.count
            guard !disabled.contains(object) else { return }
            disabled.insert(object)
            defer { disabled.remove(object) }
            var done = false, attempts = 0
            while !done, attempts < 10 {
                attempts += 1
                done = await writer.disableLatest(object)
                if !done { try? await Task.sleep(for: .seconds(1)) }
            }
            guard done else { await recorder.note("could not disable a version (vault unreachable)"); return }
            let o = world.objects[object]
            let id = await recorder.begin(fault.kind, detail: "\(o.vault)/\(o.name) for \(fault.duration) s", vault: o.vault)
            try? await Task.sleep(for: .seconds(fault.duration))
            await writer.release(object)
            await recorder.end(id)
        case .identityLoss:
            let identity: ChaosIdentity = [.csi, .sync(0), .sync(1)][(fault.choice / 2) % 3]
            let id = await recorder.begin(fault.kind, detail: "\(identity) on \(vault) for \(fault.duration) s", vault: vault)
            identityRemoved[identity, default: [:]][vault, default: 0] += 1
            await pushIdentity(identity)
            try? await Task.sleep(for: .seconds(fault.duration))
            identityRemoved[identity, default: [:]][vault, default: 0] -= 1
            await pushIdentity(identity)
            await recorder.end(id)
        case .apiRestart, .apiCompaction:
            let id = await recorder.begin(fault.kind, detail: fault.kind == .apiRestart ? "watches closed, history gone, objects kept" : "watch history compacted")
            try? await http.admin(.POST, targets.testServer + (fault.kind == .apiRestart ? "/_testserver/restart" : "/_testserver/compact"), bearer: targets.apiToken)
            await recorder.end(id)
        case .apiThrottle:
            let count = 20 + fault.choice % 80
            let id = await recorder.begin(fault.kind, detail: "next \(count) requests 429, Retry-After 1 s")
            apiActive[.apiThrottle] = count
            await pushAPI()
            apiActive[.apiThrottle] = nil
            await recorder.end(id)
        case .apiDroppedWatches, .apiErrors, .apiSlow, .apiTokenRequests:
            let id = await recorder.begin(fault.kind, detail: "for \(fault.duration) s")
            apiActive[fault.kind, default: 0] += 1
            await pushAPI()
            if fault.kind == .apiDroppedWatches { try? await http.admin(.POST, targets.testServer + "/_testserver/drop-watches", bearer: targets.apiToken) }
            try? await Task.sleep(for: .seconds(fault.duration))
            apiActive[fault.kind, default: 0] -= 1
            await pushAPI()
            await recorder.end(id)
        case .killProvider, .killDriver, .killLeader, .sigterm:
            await processFault(fault)
        }
    }

    private func processFault(_ fault: PlannedFault) async {
        let leader = await controllerWatch.leader ?? 0
        let target: ManagedProcess
        switch fault.kind {
        case .killProvider: target = targets.provider
        case .killDriver: target = targets.driver
        case .killLeader: target = targets.controllers[leader]
        default: target = [targets.provider, targets.driver, targets.controllers[leader]][fault.choice % 3]
        }
        let name = target.name
        guard !busyProcesses.contains(name) else { return }
        busyProcesses.insert(name)
        defer { busyProcesses.remove(name) }
        guard await target.isRunning else { return }
        await target.hold()
        let id = await recorder.begin(fault.kind, detail: "\(name), back after \(fault.duration) s")
        if fault.kind == .sigterm { await target.terminate() } else { await target.kill9() }
        try? await Task.sleep(for: .seconds(fault.duration))
        await restart(target)
        await target.unhold()
        await recorder.end(id)
    }

    func restart(_ process: ManagedProcess) async {
        for attempt in 0..<5 {
            do { try await process.start(); return } catch {
                await recorder.note("restart of \(process.name) failed (attempt \(attempt + 1))")
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// After the fault phase: every knob back to normal (the faults have ended; this is a safety net).
    func clearAll() async {
        vaultActive = [:]; apiActive = [:]; tokenActive = 0; identityRemoved = [:]
        for vault in ChaosWorld.vaults { await pushVault(vault) }
        await pushAPI()
        await pushToken()
        for identity in [ChaosIdentity.csi, .sync(0), .sync(1)] { await pushIdentity(identity) }
        for p in [targets.provider, targets.driver] + targets.controllers {
            await p.unhold()
            if await !p.isRunning { await restart(p) }
        }
    }

    private func pushVault(_ vault: String) async {
        let active = vaultActive[vault] ?? [:]
        var faults: [String: Any] = [:]
        if active[.vaultOutage, default: 0] > 0 || active[.vaultOutageRestarts, default: 0] > 0 { faults["outage"] = true }
        if active[.vaultErrors, default: 0] > 0 { faults["errorRate"] = 0.3 }
        if active[.vaultLatency, default: 0] > 0 { faults["latencyMs"] = 1500; faults["jitterMs"] = 1500 }
        if active[.vaultThrottle, default: 0] > 0 { faults["throttle"] = ["limit": 10, "windowSeconds": 10] }
        try? await http.admin(.PUT, targets.emulatorAdmin + "/vaults/\(vault)/faults", json: faults)
    }

    private func pushToken() async {
        try? await http.admin(.PUT, targets.emulatorAdmin + "/token/faults", json: tokenActive > 0 ? ["outage": true] : [String: Any]())
    }

    private func pushAPI() async {
        var faults: [String: Any] = [:]
        if apiActive[.apiErrors, default: 0] > 0 { faults["errorRate"] = 0.3 }
        if apiActive[.apiSlow, default: 0] > 0 { faults["latencyMs"] = 1500 }
        if apiActive[.apiDroppedWatches, default: 0] > 0 { faults["rejectWatches"] = true }
        if apiActive[.apiTokenRequests, default: 0] > 0 { faults["refuseTokenRequests"] = true }
        if let count = apiActive[.apiThrottle], count > 0 { faults["throttle"] = ["count": count, "retryAfterSeconds": 1] }
        try? await http.admin(.POST, targets.testServer + "/_testserver/faults", json: faults, bearer: targets.apiToken)
    }

    private func pushIdentity(_ identity: ChaosIdentity) async {
        let removed = identityRemoved[identity] ?? [:]
        let vaults = ChaosWorld.vaults.filter { removed[$0, default: 0] <= 0 }
        try? await http.admin(.POST, targets.emulatorAdmin + "/identities", json: world.identityBody(identity, issuer: targets.issuer, vaults: vaults))
    }
}
