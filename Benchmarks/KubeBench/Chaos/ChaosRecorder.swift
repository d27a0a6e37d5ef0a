import Foundation

/// Invariant violations, injected faults and the per-second samples the report is made of.
actor ChaosRecorder {
    enum Invariant: String, CaseIterable, Sendable {
        case volumeFiles = "volume file set"
        case secretRegression = "synced Secret kept"
        case leaderOverlap = "one writing replica"
        case outageBudget = "requests during outage"
        case convergence = "convergence"
        case secretLeak = "no secret value leaked"
        case outageRestarts = "pods restarting in an outage: stale only where allowed"
    }

    struct Fault: Sendable {
        var kind: FaultKind
        var detail: String
        var start: ContinuousClock.Instant
        var end: ContinuousClock.Instant?
        var vault: String?
    }

    struct Sample: Sendable { var at: ContinuousClock.Instant; var worstStaleness: Duration; var allFresh: Bool }

    let origin = ContinuousClock.now
    private(set) var violations: [Invariant: Int] = [:]
    private var openIncidents: [String: ContinuousClock.Instant] = [:]
    private(set) var details: [String] = []
    private(set) var faults: [Fault] = []
    private(set) var samples: [Sample] = []
    /// Requests per second against a vault while an outage on it was on, by vault, with the second they were seen.
    private(set) var outageRates: [(vault: String, at: ContinuousClock.Instant, rate: Double)] = []
    private(set) var checks: [Invariant: Int] = [:]
    private(set) var notes: [String: Int] = [:]

    /// Counts a violation once per incident: the same `key` seen again within 5 s is the same incident.
    func violation(_ invariant: Invariant, _ detail: String, key: String? = nil) {
        let incident = "\(invariant.rawValue)|\(key ?? detail)"
        defer { openIncidents[incident] = .now }
        if let last = openIncidents[incident], ContinuousClock.now - last < .seconds(5) { return }
        violations[invariant, default: 0] += 1
        violationTimes.append((invariant, .now))
        let t = ContinuousClock.now - origin
        if details.count < 200 { details.append(String(format: "t=%.1fs %@: %@", seconds(t), invariant.rawValue, detail)) }
    }

    func checked(_ invariant: Invariant, _ n: Int = 1) { checks[invariant, default: 0] += n }
    func note(_ what: String) { notes[what, default: 0] += 1 }

    func begin(_ kind: FaultKind, detail: String, vault: String? = nil) -> Int {
        faults.append(Fault(kind: kind, detail: detail, start: .now, end: nil, vault: vault))
        return faults.count - 1
    }

    func end(_ id: Int) { if faults[id].end == nil { faults[id].end = .now } }

    func sample(worst: Duration, allFresh: Bool) { samples.append(Sample(at: .now, worstStaleness: worst, allFresh: allFresh)) }

    func outageRate(vault: String, rate: Double) { outageRates.append((vault, .now, rate)) }


    /// The fault timeline, for the run's log.
    func timeline() -> [String] {
        faults.map { f in
            let start = seconds(f.start - origin), end = f.end.map { seconds($0 - origin) }
            return String(format: "%7.1f–%@ s  %@: %@", start, end.map { String(format: "%.1f", $0) } ?? "?", f.kind.rawValue, f.detail)
        }
    }

    /// Every vault's request rate, every second (the report's "requests during the fault" column).
    private(set) var vaultRates: [(vault: String, at: ContinuousClock.Instant, rate: Double)] = []
    func vaultRate(vault: String, rate: Double) { vaultRates.append((vault, .now, rate)) }

    /// Violation times, for attributing them to fault windows.
    private(set) var violationTimes: [(invariant: Invariant, at: ContinuousClock.Instant)] = []

    var totalViolations: Int { violations.values.reduce(0, +) }

    /// Vaults with an outage on now.
    func vaultsInOutage() -> Set<String> {
        Set(faults.filter { ($0.kind == .vaultOutage || $0.kind == .vaultOutageRestarts) && $0.end == nil }.compactMap(\.vault))
    }

    /// The faults going on now.
    func activeFaults() -> [Fault] { faults.filter { $0.end == nil } }

    /// Seconds since the run started (for messages).
    func elapsed() -> Double { seconds(ContinuousClock.now - origin) }
}
