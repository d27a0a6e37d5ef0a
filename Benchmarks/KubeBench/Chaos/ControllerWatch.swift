import Foundation

/// Samples both controller replicas' write counters every second: a second in which both wrote breaks
/// leader election. Also tells which replica leads now (the one that last reconciled), for the kill faults.
actor ControllerWatch {
    let metricsURLs: [String]
    let http: ChaosHTTP
    let recorder: ChaosRecorder
    private var lastWrites: [Double?]
    private var lastReconciles: [Double?]
    private(set) var leader: Int?

    init(metricsURLs: [String], http: ChaosHTTP, recorder: ChaosRecorder) {
        self.metricsURLs = metricsURLs; self.http = http; self.recorder = recorder
        lastWrites = metricsURLs.map { _ in nil }; lastReconciles = metricsURLs.map { _ in nil }
    }

    func run() async {
        while !Task.isCancelled {
            await sample()
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func sample() async {
        var wrote: [Int] = []
        for (i, url) in metricsURLs.enumerated() {
            guard let text = try? await http.call(.GET, url, timeout: .seconds(2)).body else { lastWrites[i] = nil; lastReconciles[i] = nil; continue }
            let writes = Self.sum(text, "akvs_sync_kubernetes_writes_total"), reconciles = Self.sum(text, "akvs_sync_reconcile_total")
            // A restarted replica starts from zero: its whole count is new.
            let dw = lastWrites[i].map { writes >= $0 ? writes - $0 : writes } ?? 0
            let dr = lastReconciles[i].map { reconciles >= $0 ? reconciles - $0 : reconciles } ?? 0
            lastWrites[i] = writes; lastReconciles[i] = reconciles
            if dw > 0 { wrote.append(i) }
            if dw > 0 || dr > 0 { leader = i }
        }
        await recorder.checked(.leaderOverlap)
        if wrote.count > 1 { await recorder.violation(.leaderOverlap, "replicas \(wrote.map(String.init).joined(separator: " and ")) both wrote within one second") }
    }

    static func sum(_ metrics: String, _ name: String) -> Double {
        metrics.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }
}

/// Requests per second each vault receives (the emulator's counters), checked against the budget during outages.
struct VaultRateMonitor: Sendable {
    let countersURL: String
    let http: ChaosHTTP
    let recorder: ChaosRecorder
    let budget: Double

    func run() async {
        var last: [String: Int] = [:]
        var lastAt = ContinuousClock.now
        var outageBefore: Set<String> = []
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard let body = try? await http.call(.GET, countersURL, timeout: .seconds(5)).body,
                  let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  let vaults = json["vaults"] as? [String: Any] else { continue }
            let now = ContinuousClock.now
            let elapsed = max(0.2, seconds(now - lastAt))
            let outage = await recorder.vaultsInOutage()
            for vault in ChaosWorld.vaults {
                let total = ((vaults[vault] as? [String: Any])?["total"] as? Int) ?? 0
                defer { last[vault] = total }
                guard let previous = last[vault] else { continue }
                let rate = Double(total - previous) / elapsed
                await recorder.vaultRate(vault: vault, rate: rate)
                // Whole seconds of outage only (the second it began may hold normal traffic).
                guard outage.contains(vault), outageBefore.contains(vault) else { continue }
                await recorder.outageRate(vault: vault, rate: rate)
                await recorder.checked(.outageBudget)
                if rate > budget {
                    await recorder.violation(.outageBudget, String(format: "%@: %.1f requests/s during an outage, budget %.0f", vault, rate, budget), key: "budget \(vault)")
                }
            }
            outageBefore = outage
            lastAt = now
        }
    }
}
