import Foundation
import Logging
import SecretsStoreAPI

/// Leader election through a `coordination.k8s.io/v1` Lease, as client-go does it: acquire when the lease is
/// free or expired, renew every `retryPeriod`, give up leadership when renewal fails for `renewDeadline`,
/// release the lease on shutdown so another replica takes over at once. Two replicas never both lead,
/// because every write is conditional on the Lease's resourceVersion.
public struct LeaderElector: Sendable {
    public let client: KubernetesClient
    public let namespace: String
    public let name: String
    public let identity: String
    public var leaseDuration: Duration = .seconds(15)
    public var renewDeadline: Duration = .seconds(10)
    public var retryPeriod: Duration = .seconds(2)
    let logger: Logger

    public init(client: KubernetesClient, namespace: String, name: String, identity: String, leaseDuration: Duration = .seconds(15),
                renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2), logger: Logger = Logger(label: "akvs.leader")) {
        self.client = client; self.namespace = namespace; self.name = name; self.identity = identity
        self.leaseDuration = leaseDuration; self.renewDeadline = renewDeadline; self.retryPeriod = retryPeriod; self.logger = logger
    }

    /// Waits for leadership, then runs `lead` while renewing. Returns when `lead` returns, when leadership
    /// is lost (then `lead` is cancelled), or when the calling task is cancelled.
    public func run(_ lead: @escaping @Sendable () async throws -> Void) async throws {
        // A failed attempt (API server 5xx, 429, unreachable) is one more wait, not the end of the replica
        // (found by the chaos run: standbys exited on every API 500 while waiting for the lease).
        while true {
            do {
                if try await tryAcquireOrRenew() { break }
            } catch let error as KubernetesError where error.isTransient {
                logger.debug("acquiring the lease failed; retrying", metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
            }
            try await Task.sleep(for: retryPeriod)
        }
        logger.info("became leader", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
        defer { logger.info("leadership ended", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await lead() }
            group.addTask { try await self.renewLoop() }
            do {
                try await group.next()
            } catch {
                group.cancelAll()
                await releaseEvenIfCancelled()
                throw error
            }
            group.cancelAll()
            await releaseEvenIfCancelled()
        }
    }

    /// Renews until renewal has failed for longer than `renewDeadline`; then returns (leadership lost).
    func renewLoop() async throws {
        var lastRenew = ContinuousClock.now
        while true {
            try await Task.sleep(for: retryPeriod)
            if (try? await tryAcquireOrRenew()) == true {
                lastRenew = .now
            } else if ContinuousClock.now - lastRenew > renewDeadline {
                logger.warning("lost the lease", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
                throw LeadershipLost()
            }
        }
    }

    /// One attempt: true when this identity holds the lease afterwards.
    public func tryAcquireOrRenew(now: Date = Date()) async throws -> Bool {
        let time = APITime.micro(now)
        let seconds = Int(leaseDuration.components.seconds)
        let lease: Lease
        do {
            lease = try await client.get(Lease.self, name: name, namespace: namespace)
        } catch let error as KubernetesError where error.isNotFound {
            let fresh = Lease(metadata: ObjectMeta(name: name, namespace: namespace),
                              spec: .init(holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: time, renewTime: time, leaseTransitions: 0))
            do { _ = try await client.create(fresh); return true } catch let e as KubernetesError where e.isAlreadyExists { return false }
        }
        var spec = lease.spec ?? .init()
        let holder = spec.holderIdentity ?? ""
        if holder != identity && !holder.isEmpty {
            let renewed = spec.renewTime.flatMap(APITime.parse) ?? .distantPast
            let duration = TimeInterval(spec.leaseDurationSeconds ?? seconds)
            if renewed.addingTimeInterval(duration) > now { return false }
        }
        if holder != identity {
            spec.leaseTransitions = (spec.leaseTransitions ?? 0) + (holder.isEmpty ? 0 : 1)
            spec.acquireTime = time
        }
        spec.holderIdentity = identity
        spec.leaseDurationSeconds = seconds
        spec.renewTime = time
        var updated = lease
        updated.spec = spec
        do { _ = try await client.update(updated); return true } catch let e as KubernetesError where e.isConflict { return false }
    }

    /// Releasing must happen even when the caller was cancelled (shutdown), so it runs in its own task.
    func releaseEvenIfCancelled() async {
        let elector = self
        await Task { await elector.release() }.value
    }

    /// Gives the lease up (holder cleared) if this identity still holds it.
    func release() async {
        guard var lease = try? await client.get(Lease.self, name: name, namespace: namespace), lease.spec?.holderIdentity == identity else { return }
        lease.spec?.holderIdentity = ""
        lease.spec?.leaseDurationSeconds = 1
        lease.spec?.renewTime = APITime.micro(Date())
        _ = try? await client.update(lease)
    }
}

/// Renewal failed for longer than the renew deadline.
public struct LeadershipLost: Error, CustomStringConvertible {
    public var description: String { "leadership lost: the lease could not be renewed in time" }
}
