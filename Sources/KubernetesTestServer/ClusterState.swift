import DequeModule
import Foundation
import NIOCore
import SecretsStoreAPI
import StructuredJSON

/// The API server's data: every object, the change history watches resume from, and open watches.
actor ClusterState {
    let registry: ResourceRegistry
    var revision = 1
    var store: [ResourceKind: [ObjectKey: StoredObject]] = [:]
    var history: Deque<HistoryEvent> = []
    let historyLimit: Int
    /// History at or before this revision is gone: resuming from an older one answers 410.
    var compactedThrough = 0
    var watchers: [Int: Watcher] = [:]
    var snapshots: [Int: ListSnapshot] = [:]
    var nextSnapshotID = 0

    struct ListSnapshot {
        var revision: Int
        var items: [ByteBuffer]
    }
    var nextWatcherID = 0

    struct Watcher {
        var filter: ObjectFilter
        var bookmarks: Bool
        var continuation: AsyncStream<ByteBuffer>.Continuation
    }

    /// How long a deleted namespace stays Terminating before the namespace controller's work is done.
    let namespaceFinalizeDelay: Duration

    init(registry: ResourceRegistry, historyLimit: Int, namespaceFinalizeDelay: Duration = .milliseconds(500)) {
        self.registry = registry
        self.historyLimit = historyLimit
        self.namespaceFinalizeDelay = namespaceFinalizeDelay
    }

    func definition(for kind: ResourceKind) -> ResourceDefinition? { registry.definitions.first { $0.kind == kind } }

    // MARK: reads

    func get(_ d: ResourceDefinition, namespace: String?, name: String) throws(APIError) -> StoredObject {
        guard let object = store[d.kind]?[ObjectKey(namespace: namespace, name: name)] else { throw .notFound(d, name) }
        return object
    }

    /// Every stored object of a kind, in key order.
    func all(_ kind: ResourceKind) -> [JSONValue] {
        (store[kind] ?? [:]).sorted { $0.key < $1.key }.map(\.value.value)
    }

    func exists(_ kind: ResourceKind, namespace: String?, name: String) -> Bool {
        store[kind]?[ObjectKey(namespace: namespace, name: name)] != nil
    }

    struct ListPage {
        var items: [ByteBuffer]
        var revision: Int
        var continueToken: String?
        var remaining: Int?
    }

    /// Lists a page. A paged list is a snapshot: continued pages are served from the objects as they were
    /// at the first page's resourceVersion (kept for a bounded number of lists; an evicted or compacted one is 410).
    func list(_ filter: ObjectFilter, limit: Int?, continueToken: String?) throws(APIError) -> ListPage {
        let pageSize = limit.flatMap { $0 > 0 ? $0 : nil }
        if let continueToken, !continueToken.isEmpty {
            guard let data = Data(base64Encoded: continueToken), let text = String(data: data, encoding: .utf8) else {
                throw .badRequest("continue key is not valid: illegal base64 data")
            }
            let parts = text.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2 else { throw .badRequest("continue key is not valid: \(text)") }
            guard let snapshot = snapshots[parts[0]], snapshot.revision >= compactedThrough else {
                throw .expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            }
            return page(of: snapshot, id: parts[0], offset: parts[1], limit: pageSize)
        }
        let objects = store[filter.definition.kind] ?? [:]
        let keys = objects.keys.filter { key in filter.namespace.map { key.namespace == $0 } ?? true }.sorted()
        let items = keys.compactMap { key -> ByteBuffer? in
            let object = objects[key]!
            return filter.matches(object.value) ? object.listBytes : nil
        }
        let snapshot = ListSnapshot(revision: revision, items: items)
        guard let pageSize, items.count > pageSize else { return ListPage(items: items, revision: revision, continueToken: nil, remaining: nil) }
        nextSnapshotID += 1
        snapshots[nextSnapshotID] = snapshot
        if snapshots.count > 64, let oldest = snapshots.keys.min() { snapshots.removeValue(forKey: oldest) }
        return page(of: snapshot, id: nextSnapshotID, offset: 0, limit: pageSize)
    }

    func page(of snapshot: ListSnapshot, id: Int, offset: Int, limit: Int?) -> ListPage {
        let start = min(offset, snapshot.items.count)
        let end = limit.map { min(start + $0, snapshot.items.count) } ?? snapshot.items.count
        let more = end < snapshot.items.count
        return ListPage(items: Array(snapshot.items[start..<end]), revision: snapshot.revision,
                        continueToken: more ? Data("\(id):\(end)".utf8).base64EncodedString() : nil,
                        remaining: more ? snapshot.items.count - end : nil)
    }

    // MARK: writes

    /// Stores a new version of an object (or removes it), assigning the next resourceVersion and notifying watches.
    @discardableResult
    func commit(_ d: ResourceDefinition, key: ObjectKey, value: JSONValue?, ownership: FieldOwnership, type: String, previous: JSONValue?) -> StoredObject? {
        revision += 1
        var value = value ?? previous ?? .object([:])
        value[path: ["metadata", "resourceVersion"]] = .string(String(revision))
        let stored = StoredObject(value: value, ownership: ownership, listItem: !d.custom)
        if type == "DELETED" {
            store[d.kind]?.removeValue(forKey: key)
        } else {
            store[d.kind, default: [:]][key] = stored
        }
        let event = HistoryEvent(revision: revision, kind: d.kind, type: type, object: stored.value, bytes: stored.bytes, previous: previous)
        history.append(event)
        while history.count > historyLimit, let dropped = history.popFirst() { compactedThrough = dropped.revision }
        deliver(event)
        return stored
    }

    // MARK: watches

    /// Opens a watch. Objects changed after `resourceVersion` are replayed first; without one, every
    /// current object arrives as ADDED. A version older than the history yields one 410 ERROR event.
    /// With `initialEventsEnd` (watch-list), a BOOKMARK annotated `k8s.io/initial-events-end: "true"` follows the ADDED events.
    func watch(_ filter: ObjectFilter, resourceVersion: Int?, bookmarks: Bool, initialEventsEnd: Bool = false) -> (id: Int, stream: AsyncStream<ByteBuffer>) {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        nextWatcherID += 1
        let id = nextWatcherID
        if let rv = resourceVersion {
            if rv < compactedThrough {
                let status = APIError.expired("too old resource version: \(rv) (\(compactedThrough + 1))").status()
                continuation.yield(WatchLine.encode(type: "ERROR", objectBytes: ByteBuffer(data: status.encoded())))
                continuation.finish()
                return (id, stream)
            }
            for event in history where event.revision > rv && event.kind == filter.definition.kind {
                if let line = Self.line(for: event, filter: filter) { continuation.yield(line) }
            }
        } else {
            let objects = (store[filter.definition.kind] ?? [:]).values.filter { filter.matches($0.value) }.sorted { $0.resourceVersion < $1.resourceVersion }
            for object in objects { continuation.yield(WatchLine.encode(type: "ADDED", objectBytes: object.bytes)) }
            if initialEventsEnd {
                let object: JSONValue = ["kind": .string(filter.definition.kind.kind), "apiVersion": .string(filter.definition.kind.apiVersion),
                                         "metadata": ["resourceVersion": .string(String(revision)), "annotations": ["k8s.io/initial-events-end": "true"]]]
                continuation.yield(WatchLine.encode(type: "BOOKMARK", objectBytes: ByteBuffer(data: object.encoded())))
            }
        }
        watchers[id] = Watcher(filter: filter, bookmarks: bookmarks, continuation: continuation)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.endWatch(id) }
        }
        return (id, stream)
    }

    func endWatch(_ id: Int) {
        watchers.removeValue(forKey: id)?.continuation.finish()
    }

    func dropWatches() {
        let all = watchers
        watchers = [:]
        for (_, w) in all { w.continuation.finish() }
    }

    /// Forgets all history: every resume from an older resourceVersion answers 410.
    func compact() {
        history.removeAll()
        compactedThrough = revision
    }

    var openWatchCount: Int { watchers.count }

    func sendBookmarks() {
        for (_, w) in watchers where w.bookmarks {
            let object: JSONValue = ["kind": .string(w.filter.definition.kind.kind), "apiVersion": .string(w.filter.definition.kind.apiVersion),
                                     "metadata": ["resourceVersion": .string(String(revision))]]
            w.continuation.yield(WatchLine.encode(type: "BOOKMARK", objectBytes: ByteBuffer(data: object.encoded())))
        }
    }

    private func deliver(_ event: HistoryEvent) {
        for (_, w) in watchers where w.filter.definition.kind == event.kind {
            if let line = Self.line(for: event, filter: w.filter) { w.continuation.yield(line) }
        }
    }

    /// An object that starts or stops matching a selector arrives as ADDED or DELETED, as with kube-apiserver.
    static func line(for event: HistoryEvent, filter: ObjectFilter) -> ByteBuffer? {
        let now = filter.matches(event.object)
        let before = event.previous.map(filter.matches) ?? false
        switch (event.type, before, now) {
        case ("MODIFIED", true, true), ("ADDED", _, true), ("DELETED", _, true): return WatchLine.encode(type: event.type, objectBytes: event.bytes)
        case ("MODIFIED", false, true): return WatchLine.encode(type: "ADDED", objectBytes: event.bytes)
        case ("MODIFIED", true, false): return WatchLine.encode(type: "DELETED", objectBytes: event.bytes)
        default: return nil
        }
    }
}
