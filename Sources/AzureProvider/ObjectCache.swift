import Foundation
import KeyVault

/// What one Key Vault read returned.
enum FetchedObject: Sendable {
    case secret(SecretBundle)
    case key(KeyBundle)
    case certificate(CertificateBundle)
    case versions([ObjectItem])
}

/// Identifies one Key Vault read for one identity.
struct FetchKey: Hashable, Sendable {
    var identity: String
    var vault: String
    var path: String
}

/// Shares Key Vault reads: identical reads in flight are joined, results are reused for a TTL.
/// Keys include the caller's identity, so identities never see each other's results.
/// A caller may ask for a younger result (`maxAge`): zero reads the vault (a force or an edit), still joining a read in flight.
actor ObjectCache {
    private struct Entry { var value: FetchedObject; var fetched: ContinuousClock.Instant; var expires: ContinuousClock.Instant }
    private var entries: [FetchKey: Entry] = [:]
    private var inFlight: [FetchKey: Task<FetchedObject, any Error>] = [:]
    private let ttl: Duration
    private let capacity: Int
    private(set) var hits = 0
    private(set) var misses = 0

    init(ttl: Duration, capacity: Int) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    func value(for key: FetchKey, maxAge: Duration? = nil,
               fetch: @escaping @Sendable () async throws(KeyVaultError) -> FetchedObject) async throws(KeyVaultError) -> FetchedObject {
        let now = ContinuousClock.now
        if let entry = entries[key], entry.expires > now, maxAge.map({ now - entry.fetched < $0 }) ?? true {
            hits += 1
            return entry.value
        }
        let task: Task<FetchedObject, any Error>
        if let running = inFlight[key] {
            hits += 1
            task = running
        } else {
            misses += 1
            task = Task { try await fetch() }
            inFlight[key] = task
        }
        do {
            let value = try await task.value
            if inFlight[key] == task {
                inFlight[key] = nil
                if ttl > .zero { store(value, key: key) }
            }
            return value
        } catch {
            if inFlight[key] == task { inFlight[key] = nil }
            // Failures are never cached: the next mount asks the vault again.
            throw (error as? KeyVaultError) ?? .malformedResponse(vault: key.vault, object: key.path, reason: "\(error)")
        }
    }

    private func store(_ value: FetchedObject, key: FetchKey) {
        let now = ContinuousClock.now
        if entries.count >= capacity {
            entries = entries.filter { $0.value.expires > now }
            if entries.count >= capacity, let victim = entries.min(by: { $0.value.expires < $1.value.expires })?.key { entries[victim] = nil }
        }
        entries[key] = Entry(value: value, fetched: now, expires: now + ttl)
    }

    var count: Int { entries.count }
}
