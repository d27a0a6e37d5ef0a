import AzureIdentity
import Foundation
import KeyVault

/// Rotates vault values all through the run: every tick a seeded object gets a new generation. It writes
/// through Key Vault's data plane as the vault's owner (the emulator's admin identity), so faults hit it too.
actor ChaosWriter {
    let world: ChaosWorld
    let ledger: ChaosLedger
    let clients: [String: KeyVaultClient]
    private var random: ChaosRandom
    private var gens: [Int: Int] = [:]
    /// Objects a fault holds (a disabled version): not rotated until the fault ends.
    private var held: Set<Int> = []
    private(set) var writes = 0, failures = 0

    init(world: ChaosWorld, ledger: ChaosLedger, clients: [String: KeyVaultClient], seed: UInt64) {
        self.world = world; self.ledger = ledger; self.clients = clients; random = ChaosRandom(seed: seed ^ 0x5EED)
    }

    /// The generation-0 values the emulator is seeded with.
    static func initialValues(world: ChaosWorld, ledger: ChaosLedger) async -> [Int: String] {
        var values: [Int: String] = [:]
        for o in world.objects {
            values[o.index] = await ledger.makeValue(object: o, gen: 0)
            await ledger.written(object: o.index, gen: 0, definite: true)
        }
        return values
    }

    func run(every interval: Duration, until stop: ContinuousClock.Instant) async {
        while ContinuousClock.now < stop, !Task.isCancelled {
            let candidates = world.objects.indices.filter { !held.contains($0) }
            if let pick = candidates.randomElement(using: &random) { await rotate(pick) }
            try? await Task.sleep(for: interval)
        }
    }

    /// Writes a new generation of `object`; true when the vault confirmed it.
    @discardableResult
    func rotate(_ object: Int) async -> Bool {
        let o = world.objects[object]
        let gen = (gens[object] ?? 0) + 1
        gens[object] = gen
        let value = await ledger.makeValue(object: o, gen: gen)
        guard let client = clients[o.vault] else { return false }
        do {
            _ = try await client.setSecret(o.name, value: value)
            writes += 1
            await ledger.written(object: object, gen: gen, definite: true)
            return true
        } catch {
            failures += 1
            // An HTTP answer means the vault did not store it; anything else (timeout, reset) may have.
            switch error {
            case .service, .authentication, .invalidInput: break
            case .transport, .malformedResponse: await ledger.written(object: object, gen: gen, definite: false)
            }
            return false
        }
    }

    /// Disables the current version of `object` (and holds it) ; false when that failed.
    func disableLatest(_ object: Int) async -> Bool {
        let o = world.objects[object]
        guard let client = clients[o.vault] else { return false }
        held.insert(object)
        do {
            let current = try await client.getSecret(o.name)
            guard let version = current.id.flatMap({ URL(string: $0)?.lastPathComponent }) else { return false }
            _ = try await client.updateSecret(o.name, version: version, enabled: false)
            return true
        } catch {
            held.remove(object)
            return false
        }
    }

    /// Ends a disabled-version fault: a new enabled version (retried until the vault takes it).
    func release(_ object: Int) async {
        await rotateUntilStored(object)
        held.remove(object)
    }

    private func rotateUntilStored(_ object: Int) async {
        for _ in 0..<30 {
            if await rotate(object) { return }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// After the faults: objects whose last write is uncertain get a confirmed one, so "latest" is known.
    func settle() async {
        for object in await ledger.uncertain() { await rotateUntilStored(object) }
    }
}
