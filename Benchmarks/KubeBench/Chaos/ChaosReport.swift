import Foundation

/// The "Chaos" section of RELIABILITY.md: one row per fault kind, then the totals and the settings.
struct ChaosReport {
    let bench: ChaosBenchmark
    let recorder: ChaosRecorder
    let plan: [PlannedFault]
    let setup: Duration
    let total: Duration
    let convergence: Duration?
    let world: ChaosWorld
    let writes: Int
    let writeFailures: Int
    let scannedBytes: Int

    func lines() async -> [String] {
        let faults = await recorder.faults, samples = await recorder.samples, rates = await recorder.vaultRates
        let violationTimes = await recorder.violationTimes, violations = await recorder.violations, checks = await recorder.checks
        let notes = await recorder.notes, details = await recorder.details, outageRates = await recorder.outageRates
        let budget = bench.vaultBudget
        let finalEnd = ContinuousClock.now

        var out = [
            "| fault | injected | invariant violations | worst staleness s | worst recovery s | requests/s to the vault during the fault (max) vs budget |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for kind in FaultKind.allCases {
            let mine = faults.filter { $0.kind == kind }
            var worstStale = Duration.zero, worstRecovery: Duration? = .zero, maxRate: Double?, inWindow = 0
            for f in mine {
                let end = f.end ?? finalEnd
                let recoveredAt = samples.first { $0.at >= end && $0.allFresh }?.at
                if let r = recoveredAt, let w = worstRecovery { worstRecovery = max(w, r - end) } else if recoveredAt == nil { worstRecovery = nil }
                let windowEnd = recoveredAt ?? finalEnd
                for s in samples where s.at >= f.start && s.at <= windowEnd { worstStale = max(worstStale, s.worstStaleness) }
                inWindow += violationTimes.filter { $0.at >= f.start && $0.at <= windowEnd }.count
                if let vault = f.vault {
                    for r in rates where r.vault == vault && r.at > f.start && r.at <= end { maxRate = max(maxRate ?? 0, r.rate) }
                }
            }
            let rate = maxRate.map { String(format: "%.1f vs %.0f", $0, budget) } ?? "–"
            let recovery = mine.isEmpty ? "–" : worstRecovery.map { String(format: "%.0f", seconds($0)) } ?? "not within the run"
            out.append(String(format: "| %@ | %d | %d | %@ | %@ | %@ |", kind.rawValue, mine.count, inWindow,
                              mine.isEmpty ? "–" : String(format: "%.0f", seconds(worstStale)), recovery, rate))
        }
        let maxOutage = outageRates.map(\.rate).max() ?? 0
        let worstOverall = samples.map(\.worstStaleness).max() ?? .zero
        let consumers = world.volumes.reduce(0) { $0 + $1.objects.count } + world.syncs.reduce(0) { $0 + $1.keys.count }
        out += [
            "",
            "| invariant (checked every second) | checks | violations |",
            "|---|---:|---:|",
        ]
        for inv in ChaosRecorder.Invariant.allCases {
            out.append("| \(inv.rawValue) | \(checks[inv] ?? 0) | \(violations[inv] ?? 0) |")
        }
        out += [
            "",
            String(format: "Run: %.1f min (setup %.0f s, fault phase %d s). %d faults injected (%d planned; a process fault is skipped while its process is already down). "
                   + "Writer: %d vault writes, %d failed under faults.", seconds(total) / 60, seconds(setup), max(60, bench.minutes * 60 - 75),
                   faults.count, plan.count, writes, writeFailures),
            String(format: "Deployed: 2 vaults, %d objects; %d SecretSyncs (%d TLS) in %d namespaces, %d service accounts, 2 federated identities; "
                   + "%d CSI volumes republished every %d s; %d consumers (files and Secret keys) tracked.",
                   world.objects.count, world.syncs.count, world.syncs.filter(\.tls).count, world.namespaces, world.namespaces * ChaosWorld.serviceAccounts,
                   world.volumes.count, bench.republish, consumers),
            String(format: "Worst staleness of any consumer: %.0f s. After the last fault every consumer held the latest value after %@ (bound: poll %d + jitter %d + cache %d + backoff cap %d s).",
                   seconds(worstOverall), convergence.map { String(format: "%.0f s", seconds($0)) } ?? "— (not converged)",
                   bench.syncPoll, bench.syncJitter, bench.syncCacheTTL, bench.backoffCap),
            String(format: "Requests per second to a vault in outage: at most %.1f; budget %.0f = controller --vault-requests-per-second %d and its burst of as many + %d volumes × %d objects × %d attempts / %d s rotation + 1 writer.",
                   maxOutage, budget, bench.syncBudget, world.volumes.count / 2, world.volumes.first?.objects.count ?? 0, 4, bench.rotation),
            String(format: "Leak scan: %.1f MiB of provider, driver and controller logs, /metrics of all four, Events, SecretSync and SecretProviderClassPodStatus objects, and kubelet's error strings.",
                   Double(scannedBytes) / 1_048_576),
            "Settings: sync-controller ×2 --leader-elect --rotation-poll-interval \(bench.syncPoll)s --jitter-seconds \(bench.syncJitter) --object-cache-ttl \(bench.syncCacheTTL) --vault-requests-per-second \(bench.syncBudget); "
                + "csi-driver --rotation-poll-interval \(bench.rotation)s; provider --object-cache-ttl \(bench.providerCacheTTL).",
        ]
        if !notes.isEmpty {
            out.append("Expected failures seen (not violations): " + notes.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: "; ") + ".")
        }
        if !details.isEmpty {
            out.append("")
            out.append("Violations:")
            out += details.prefix(50).map { "- " + $0 }
        }
        return out
    }
}
