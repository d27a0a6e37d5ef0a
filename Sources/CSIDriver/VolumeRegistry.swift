import Foundation

/// What the driver remembers of each mounted volume (lost on restart; everything here can be rebuilt
/// from the target directory and the API server), and one lock per target so that kubelet's publish,
/// republish and unpublish of one volume never overlap.
actor VolumeRegistry {
    struct Volume: Sendable {
        var provider: String
        var podStatusName: String
        var namespace: String
        var secretProviderClass: String = ""
        var podStatusUID: String?
        var objects: [String: String] = [:]
        var lastCheck: ContinuousClock.Instant
        /// SHA-256 of the files last synced into Secrets successfully; nil when a sync is owed.
        var syncedDigest: String?
        var retry: Task<Void, Never>?
        /// The akvs.io annotations last written on the pod status (served stale, missing optional objects).
        var annotations: [String: String] = [:]
        /// The mount holds last good content served during an outage: every republish tries the provider again.
        var stale = false
        /// The class's own rotation interval (`akvs.io/rotation-poll-interval`), as of the last provider call.
        var rotationInterval: Duration?
        /// The class's and the pod's `akvs.io/refresh-requested-at` values already honoured.
        var classRefresh: String?
        var podRefresh: String?
        /// Files of optional objects missing from the vault: Secrets that need them are not synced (nor failures).
        var absentFiles: Set<String> = []
    }

    private var volumes: [String: Volume] = [:]
    private var held: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// Runs `body` while holding `target`'s lock.
    func withLock<T: Sendable>(_ target: String, _ body: @Sendable () async throws -> T) async rethrows -> T {
        await acquire(target)
        defer { release(target) }
        return try await body()
    }

    private func acquire(_ target: String) async {
        if held.insert(target).inserted { return }
        await withCheckedContinuation { waiters[target, default: []].append($0) }
    }

    private func release(_ target: String) {
        if var queue = waiters[target], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[target] = queue.isEmpty ? nil : queue
            next.resume()  // the lock passes straight to the next waiter
        } else {
            held.remove(target)
        }
    }

    func volume(_ target: String) -> Volume? { volumes[target] }

    func store(_ target: String, _ volume: Volume) { volumes[target] = volume }

    func update(_ target: String, _ change: (inout Volume) -> Void) {
        guard var v = volumes[target] else { return }
        change(&v)
        volumes[target] = v
    }

    /// Whether any remembered volume still mounts this SecretProviderClass.
    func mounts(namespace: String, secretProviderClass: String) -> Bool {
        volumes.values.contains { $0.namespace == namespace && $0.secretProviderClass == secretProviderClass }
    }

    /// The pod statuses (name, uid) of this node's volumes of a class: every one owns the class's synced Secrets.
    func owners(namespace: String, secretProviderClass: String) -> [(name: String, uid: String)] {
        volumes.values.filter { $0.namespace == namespace && $0.secretProviderClass == secretProviderClass }
            .compactMap { v in v.podStatusUID.map { (v.podStatusName, $0) } }.sorted { $0.name < $1.name }
    }

    /// Forgets `target`, cancelling a pending Secret sync retry.
    func remove(_ target: String) -> Volume? {
        let v = volumes.removeValue(forKey: target)
        v?.retry?.cancel()
        return v
    }
}
