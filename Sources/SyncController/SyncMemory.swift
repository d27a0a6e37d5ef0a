import Foundation

/// What the controller remembers per SecretSync between reconciles (bounded by the number of SecretSyncs;
/// forgotten when one is deleted): the last data written, for partial sync, and that the Secret is known to be ours.
actor SyncMemory {
    var lastData: [String: [String: Data]] = [:]
    var owned: Set<String> = []
    var drifted: Set<String> = []

    func data(_ uid: String) -> [String: Data]? { lastData[uid] }
    func remember(_ uid: String, data: [String: Data]) { lastData[uid] = data; owned.insert(uid) }
    func isOwned(_ uid: String) -> Bool { owned.contains(uid) }
    func markOwned(_ uid: String) { owned.insert(uid) }
    func forget(_ uid: String) { lastData.removeValue(forKey: uid); owned.remove(uid); drifted.remove(uid) }
    func markDrifted(_ uid: String) { drifted.insert(uid) }
    /// Whether the Secret was edited or deleted behind the controller's back (and clears the mark).
    func takeDrift(_ uid: String) -> Bool { drifted.remove(uid) != nil }
}
