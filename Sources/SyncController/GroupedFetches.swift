import Foundation

/// One provider call per group of SecretSyncs that share a SecretProviderClass (uid and generation), a
/// service account and an audience: the first member due fetches every object the group references,
/// and members that reconcile while that call runs or shortly after (`window`) take their items from it.
/// Members of a group share one schedule (see `SyncConfiguration.scheduleKey`), so a group is due at once.
/// A `fresh` request (a force or an edit) takes no earlier result: it joins only a fresh call still running.
actor GroupedFetches {
    struct Key: Hashable, Sendable {
        var namespace: String
        var spcUID: String
        var spcGeneration: Int64
        var serviceAccount: String
        var audience: String
    }

    private struct Entry {
        var files: Set<String>
        var task: Task<Result<FetchedObjects, SyncFailure>, Never>
        var finished: ContinuousClock.Instant?
        var fresh: Bool
    }

    private var entries: [Key: Entry] = [:]
    let window: Duration

    init(window: Duration) { self.window = window }

    /// The fetch result for `wanted`, shared within the group; `union` is what the whole group references.
    func fetch(_ key: Key, wanted: Set<String>, union: Set<String>, fresh: Bool = false,
               perform: @escaping @Sendable (Set<String>) async -> Result<FetchedObjects, SyncFailure>) async -> Result<FetchedObjects, SyncFailure> {
        let now = ContinuousClock.now
        entries = entries.filter { $0.value.finished.map { now - $0 < window } ?? true }
        if let entry = entries[key], wanted.isSubset(of: entry.files), !fresh || (entry.fresh && entry.finished == nil) {
            return await entry.task.value
        }
        let files = union.union(wanted)
        let task = Task { await perform(files) }
        entries[key] = Entry(files: files, task: task, finished: nil, fresh: fresh)
        let result = await task.value
        if case .success = result, entries[key]?.task == task {
            entries[key]?.finished = .now
        } else if entries[key]?.task == task {
            entries[key] = nil  // failures are not shared beyond the members already waiting
        }
        return result
    }
}
