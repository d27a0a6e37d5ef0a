import Foundation

/// The kinds of failure the chaos run injects.
enum FaultKind: String, CaseIterable, Sendable, Comparable {
    case vaultOutage = "vault outage (503)"
    case vaultOutageRestarts = "vault outage while pods restart"
    case vaultThrottle = "vault 429 storm (Retry-After)"
    case vaultErrors = "vault 30 % 500s"
    case vaultLatency = "vault latency spike"
    case tokenEndpoint = "token endpoint failures"
    case disabledVersion = "disabled latest version"
    case identityLoss = "identity loses vault access"
    case apiRestart = "API server restart"
    case apiDroppedWatches = "API dropped watches"
    case apiCompaction = "API 410 Gone compaction"
    case apiThrottle = "API 429 replies"
    case apiErrors = "API 500 replies"
    case apiSlow = "API slow replies"
    case apiTokenRequests = "refused TokenRequests"
    case killProvider = "kill -9 provider"
    case killDriver = "kill -9 CSI driver"
    case killLeader = "kill -9 leader controller"
    case sigterm = "SIGTERM during work"

    static func < (a: FaultKind, b: FaultKind) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// How long it lasts (seconds) in a run whose fault phase is `phase` seconds; process faults: the downtime.
    func duration(phase: Int, _ random: inout ChaosRandom) -> Int {
        let long = phase >= 20 * 60
        switch self {
        case .vaultOutage: return long ? random.int(90...240) : random.int(25...40)
        case .vaultOutageRestarts: return long ? random.int(60...120) : random.int(20...30)
        case .vaultThrottle, .vaultErrors, .identityLoss, .disabledVersion: return long ? random.int(30...120) : random.int(15...30)
        case .vaultLatency, .tokenEndpoint, .apiErrors, .apiSlow, .apiTokenRequests, .apiDroppedWatches: return long ? random.int(20...90) : random.int(10...25)
        case .apiRestart, .apiCompaction, .apiThrottle: return 0
        case .killProvider, .killDriver, .killLeader, .sigterm: return random.int(2...10)
        }
    }
}

/// One planned fault: when it starts (seconds into the fault phase), how long, and its seeded choices.
struct PlannedFault: Sendable {
    var kind: FaultKind
    var start: Int
    var duration: Int
    var choice: Int
}

/// The seeded schedule: every kind at least once, spread over the phase, then more at random, overlapping.
func chaosSchedule(phase: Int, random: inout ChaosRandom) -> [PlannedFault] {
    var plan: [PlannedFault] = []
    let kinds = FaultKind.allCases.shuffled(using: &random)
    let slot = max(1, (phase * 3 / 4) / kinds.count)
    for (i, kind) in kinds.enumerated() {
        let start = i * slot + random.int(0...max(0, slot - 1))
        plan.append(PlannedFault(kind: kind, start: start, duration: kind.duration(phase: phase, &random), choice: random.int(0...1_000_000)))
    }
    // Long runs: one more fault every ~20 s on average after the first pass.
    let extra = max(0, phase / 20 - kinds.count)
    for _ in 0..<extra {
        let kind = FaultKind.allCases.randomElement(using: &random)!
        plan.append(PlannedFault(kind: kind, start: random.int(0...max(0, phase - 10)), duration: kind.duration(phase: phase, &random), choice: random.int(0...1_000_000)))
    }
    return plan.map { var p = $0; p.duration = min(p.duration, max(0, phase - p.start)); return p }.sorted { $0.start < $1.start }
}
