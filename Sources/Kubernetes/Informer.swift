import Logging
import SecretsStoreAPI

/// A change the informer saw.
public enum InformerEvent<T: APIObject>: Sendable {
    case added(T)
    case updated(old: T, new: T)
    case deleted(T)
}

/// How an informer fills its cache.
public enum InitialSync: Sendable {
    /// Watch-list (`sendInitialEvents=true`): one watch streams the current objects, then the changes. A server that
    /// cannot do it (an ERROR event before the end of the initial events, a 4xx, or no end bookmark) is remembered,
    /// and the informer lists and watches instead, as client-go does.
    case watchList
    /// A paged list, then a watch from its resourceVersion.
    case list
}

/// A list+watch cache of one resource, indexed by namespace and label, like client-go's shared informer:
/// it syncs once (watch-list, or list), then watches from that resourceVersion, resumes after disconnects and
/// syncs again on 410 Gone.
public actor Informer<T: APIObject> {
    let client: KubernetesClient
    let namespace: String?
    let labelSelector: String?
    let fieldSelector: String?
    let pageSize: Int
    let logger: Logger
    let initialSync: InitialSync
    /// Objects that fail it are not kept (and leave the cache when they stop passing): a cache of the few that matter.
    let keep: (@Sendable (T) -> Bool)?
    /// The server refused watch-list once: list + watch from then on.
    public private(set) var watchListRefused = false

    var objects: [String: T] = [:]
    var byNamespace: [String: Set<String>] = [:]
    var byLabel: [String: Set<String>] = [:]
    var resourceVersion: String?
    var synced = false
    var syncWaiters: [CheckedContinuation<Void, Never>] = []
    var subscribers: [Int: AsyncStream<InformerEvent<T>>.Continuation] = [:]
    var nextSubscriber = 0
    /// How often the cache was filled by a list or a watch-list (1 + resyncs after 410 or errors).
    public private(set) var listCount = 0

    public init(client: KubernetesClient, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
                pageSize: Int = 500, initialSync: InitialSync = .watchList, keep: (@Sendable (T) -> Bool)? = nil,
                logger: Logger = Logger(label: "akvs.informer")) {
        self.client = client; self.namespace = namespace; self.labelSelector = labelSelector; self.fieldSelector = fieldSelector
        self.pageSize = pageSize; self.initialSync = initialSync; self.keep = keep; self.logger = logger
    }

    // MARK: reading

    public var hasSynced: Bool { synced }

    /// Returns once the first list is in the cache.
    public func waitForSync() async {
        if synced { return }
        await withCheckedContinuation { syncWaiters.append($0) }
    }

    public func get(_ key: String) -> T? { objects[key] }
    public func get(namespace: String?, name: String) -> T? { objects[ObjectKey(namespace: namespace, name: name).description] }
    public var count: Int { objects.count }
    public var lastResourceVersion: String? { resourceVersion }

    /// The object `namespace/name`, waiting up to `timeout` for it to reach the cache (the first sync is under way,
    /// or the watch has not yet delivered an object created a moment ago); nil when it does not come.
    public func get(namespace: String?, name: String, waitingUpTo timeout: Duration) async -> T? {
        let key = ObjectKey(namespace: namespace, name: name).description
        if let found = objects[key] { return found }
        let changes = events()  // subscribed before the first suspension: nothing is missed
        return await withTaskGroup(of: T?.self) { group in
            group.addTask {
                for await change in changes {
                    switch change {
                    case .added(let object), .updated(_, let object): if object.key == key { return object }
                    case .deleted: continue
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// All objects, or those of one namespace.
    public func list(namespace: String? = nil) -> [T] {
        guard let namespace else { return Array(objects.values) }
        return (byNamespace[namespace] ?? []).compactMap { objects[$0] }
    }

    /// Objects carrying label `key=value`.
    public func list(label key: String, value: String) -> [T] {
        (byLabel["\(key)=\(value)"] ?? []).compactMap { objects[$0] }
    }

    /// Changes from now on (after the current contents, which `list` gives).
    public func events() -> AsyncStream<InformerEvent<T>> {
        let (stream, continuation) = AsyncStream<InformerEvent<T>>.makeStream()
        nextSubscriber += 1
        let id = nextSubscriber
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        return stream
    }

    func unsubscribe(_ id: Int) { subscribers.removeValue(forKey: id) }

    // MARK: running

    /// Lists and watches until the task is cancelled.
    public func run() async {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(30))
        var needList = true
        while !Task.isCancelled {
            do {
                if needList {
                    if initialSync == .watchList, !watchListRefused, try await streamInitialEvents() {
                        // The watch-list stream ended after its initial events (a timeout): resume from its resourceVersion.
                        needList = false
                        backoff.reset()
                        continue
                    }
                    try await relist()
                    needList = false
                }
                // A finite server timeout with jitter spreads reconnections, as client-go does.
                let options = WatchOptions(resourceVersion: resourceVersion, labelSelector: labelSelector, fieldSelector: fieldSelector,
                                           allowBookmarks: true, timeoutSeconds: Int.random(in: 300...600))
                for try await event in client.watch(T.self, namespace: namespace, options: options) {
                    apply(event)
                    backoff.reset()
                }
            } catch let error as KubernetesError where error.isGone {
                logger.info("watch history expired; listing again", metadata: ["resource": "\(T.resourceKind)"])
                needList = true
            } catch {
                if Task.isCancelled { break }
                let delay = backoff.next()
                logger.warning("list/watch failed; retrying", metadata: ["resource": "\(T.resourceKind)", "error": "\(error)", "retryIn": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
        for (_, s) in subscribers { s.finish() }
    }

    /// One watch-list: the initial events fill the cache, then changes are applied until the server ends the watch.
    /// Returns false when this sync must be a list instead: the server refused (remembered) or failed transiently.
    func streamInitialEvents() async throws -> Bool {
        let options = WatchOptions(labelSelector: labelSelector, fieldSelector: fieldSelector, allowBookmarks: true,
                                   timeoutSeconds: Int.random(in: 300...600), sendInitialEvents: true)
        var initial: [T] = []
        var ended = false
        do {
            for try await event in client.watch(T.self, namespace: namespace, options: options) {
                if ended { apply(event); continue }
                switch event {
                case .added(let object), .modified(let object): initial.append(object)
                case .deleted(let object): initial.removeAll { $0.key == object.key }
                case .bookmark: break
                case .initialEventsEnd(let rv):
                    replaceAll(with: keep.map { keep in initial.filter(keep) } ?? initial, resourceVersion: rv)
                    initial = []
                    ended = true
                }
            }
        } catch let error as KubernetesError where !ended {
            // kube-apiserver answers watch-list it cannot serve with an ERROR event (recorded: 500, storage without
            // RequestWatchProgress) or refuses the parameters (4xx); anything else is transient.
            if case .api(let code, _, _, _) = error, code == 500 || (400..<500).contains(code) && code != 429 && code != 410 {
                refuseWatchList("\(error)")
            } else {
                logger.info("watch-list failed; listing instead this time", metadata: ["resource": "\(T.resourceKind)", "error": "\(error)"])
            }
            return false
        }
        guard ended else {
            // A server that ignores sendInitialEvents streams the objects but never says it is done.
            refuseWatchList("the stream ended without the initial-events-end bookmark")
            return false
        }
        return true
    }

    func refuseWatchList(_ why: String) {
        watchListRefused = true
        logger.info("the API server does not serve watch-list; falling back to list + watch", metadata: ["resource": "\(T.resourceKind)", "reason": "\(why)"])
    }

    func relist() async throws {
        let (items, rv) = try await client.listAll(T.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector, pageSize: pageSize)
        replaceAll(with: keep.map { keep in items.filter(keep) } ?? items, resourceVersion: rv)
    }

    /// The cache becomes `items` (a list, or the initial events of a watch-list), emitting what changed.
    func replaceAll(with items: [T], resourceVersion rv: String) {
        listCount += 1
        var seen = Set<String>()
        for item in items {
            let key = item.key
            seen.insert(key)
            if let old = objects[key] {
                if old.metadata.resourceVersion != item.metadata.resourceVersion { store(item, key: key); emit(.updated(old: old, new: item)) }
            } else {
                store(item, key: key); emit(.added(item))
            }
        }
        for (key, old) in objects where !seen.contains(key) {
            remove(key: key); emit(.deleted(old))
        }
        resourceVersion = rv
        if !synced {
            synced = true
            for waiter in syncWaiters { waiter.resume() }
            syncWaiters = []
        }
    }

    func apply(_ event: WatchEvent<T>) {
        switch event {
        case .added(let object), .modified(let object):
            let key = object.key
            if keep?(object) == false {
                // No longer kept: as if deleted.
                if let old = objects[key] { remove(key: key); emit(.deleted(old)) }
                resourceVersion = object.metadata.resourceVersion ?? resourceVersion
                return
            }
            if let old = objects[key] { store(object, key: key); emit(.updated(old: old, new: object)) } else { store(object, key: key); emit(.added(object)) }
            resourceVersion = object.metadata.resourceVersion ?? resourceVersion
        case .deleted(let object):
            let key = object.key
            if let old = objects[key] { remove(key: key); emit(.deleted(old)) }
            resourceVersion = object.metadata.resourceVersion ?? resourceVersion
        case .bookmark(let rv), .initialEventsEnd(let rv):
            if !rv.isEmpty { resourceVersion = rv }
        }
    }

    func store(_ object: T, key: String) {
        if let old = objects[key] { unindex(old, key: key) }
        objects[key] = object
        byNamespace[object.metadata.namespace ?? "", default: []].insert(key)
        for (k, v) in object.metadata.labels ?? [:] { byLabel["\(k)=\(v)", default: []].insert(key) }
    }

    func remove(key: String) {
        guard let old = objects.removeValue(forKey: key) else { return }
        unindex(old, key: key)
    }

    func unindex(_ object: T, key: String) {
        byNamespace[object.metadata.namespace ?? ""]?.remove(key)
        for (k, v) in object.metadata.labels ?? [:] {
            byLabel["\(k)=\(v)"]?.remove(key)
            if byLabel["\(k)=\(v)"]?.isEmpty == true { byLabel.removeValue(forKey: "\(k)=\(v)") }
        }
    }

    func emit(_ event: InformerEvent<T>) {
        for (_, s) in subscribers { s.yield(event) }
    }
}

/// Exponential backoff with full jitter.
struct Backoff {
    let initial: Duration
    let maximum: Duration
    var attempt = 0
    mutating func reset() { attempt = 0 }
    mutating func next() -> Duration {
        attempt += 1
        let cap = min(initial * (1 << min(attempt, 20)), maximum)
        let ms = Double(cap.components.seconds) * 1000 + Double(cap.components.attoseconds) / 1e15
        return .milliseconds(Int(Double.random(in: 0...max(ms, 1))))
    }
}
