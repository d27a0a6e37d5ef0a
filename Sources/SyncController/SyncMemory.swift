import Foundation

/// What the controller remembers per SecretSync between reconciles (bounded by the number of SecretSyncs;
/// forgotten when one is deleted): the last data written, for partial sync and drift repair.
actor SyncMemory {
    var lastData: [String: [String: Data]] = [:]
    var drifted: Set<String> = []
    /// What the last full success was made from (SecretSync generation, SPC uid and generation): a reconcile from
    /// anything else (an edit, a force, an SPC edit) must read the vault rather than shared results.
    var baselines: [String: String] = [:]

    func data(_ uid: String) -> [String: Data]? { lastData[uid] }
    func remember(_ uid: String, data: [String: Data]) { lastData[uid] = data }
    func forget(_ uid: String) { lastData.removeValue(forKey: uid); drifted.remove(uid); baselines.removeValue(forKey: uid) }
    func baseline(_ uid: String) -> String? { baselines[uid] }
    func recordBaseline(_ uid: String, _ baseline: String) { baselines[uid] = baseline }
    func markDrifted(_ uid: String) { drifted.insert(uid) }
    /// Whether the Secret was edited or deleted behind the controller's back (and clears the mark).
    func takeDrift(_ uid: String) -> Bool { drifted.remove(uid) != nil }
}
