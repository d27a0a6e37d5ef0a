import Foundation
import Kubernetes

/// Reads every synced Secret once a second: once it exists it must stay, keep every key non-empty, hold
/// values the vault really had for that key's object, and never go back to an older generation.
struct SecretChecker: Sendable {
    let world: ChaosWorld
    let client: KubernetesClient
    let ledger: ChaosLedger
    let recorder: ChaosRecorder
    let consumers: ConsumerState
    let lag: Duration

    func run() async {
        var seen: Set<String> = []
        var last: [String: Int] = [:]
        while !Task.isCancelled {
            await check(&seen, &last)
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Number of synced Secrets present now; nil when the API server could not be read (a fault).
    @discardableResult
    func check(_ seen: inout Set<String>, _ last: inout [String: Int]) async -> Int? {
        guard let listed = try? await client.listAll(Secret.self, namespace: nil) else {
            await recorder.note("Secret list failed during an API fault (check skipped)")
            return nil
        }
        var byKey: [String: Secret] = [:]
        for s in listed.items { byKey["\(s.metadata.namespace ?? "")/\(s.metadata.name ?? "")"] = s }
        var present = 0
        for sync in world.syncs {
            let key = "\(sync.namespace)/\(sync.name)"
            guard let secret = byKey[key] else {
                if seen.contains(key) {
                    await recorder.violation(.secretRegression, "Secret \(key) was deleted")
                    for (name, _) in sync.keys { await consumers.remove("secret/\(key)/\(name)") }
                }
                continue
            }
            present += 1
            seen.insert(key)
            for (name, object) in sync.keys {
                let id = "\(key)/\(name)"
                guard let value = secret.data?[name] else {
                    await recorder.violation(.secretRegression, "Secret \(key) lost key \(name)")
                    await consumers.remove("secret/\(id)")
                    continue
                }
                guard !value.isEmpty else {
                    await recorder.violation(.secretRegression, "Secret \(key) key \(name) is empty")
                    await consumers.remove("secret/\(id)")
                    continue
                }
                let pem = sync.tls ? (name == "tls.crt" ? "CERTIFICATE" : "PRIVATE KEY") : nil
                guard let gen = await ledger.generation(of: value, object: object, pem: pem) else {
                    await recorder.violation(.secretRegression, "Secret \(key) key \(name) holds no value the vault had for \(world.objects[object].name) (\(value.count) bytes)")
                    continue
                }
                if let previous = last[id], gen < previous {
                    await recorder.violation(.secretRegression, "Secret \(key) key \(name) went back from generation \(previous) to \(gen)")
                }
                last[id] = max(gen, last[id] ?? 0)
                await consumers.set("secret/\(id)", object: object, gen: gen, lag: lag)
            }
        }
        await recorder.checked(.secretRegression)
        return present
    }
}
