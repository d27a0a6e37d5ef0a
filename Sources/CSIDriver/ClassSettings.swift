import Foundation
import SecretsStoreAPI
import Serving

/// What a SecretProviderClass asks of the driver beyond upstream's behaviour, as an annotation or a parameter of the
/// same name (the annotation wins); each is off unless set, so upstream's behaviour is the default.
package struct ClassSettings: Sendable, Equatable {
    /// Serve the last content fetched for the same class, identity and objects when the vault cannot be reached, up to this old.
    static let serveStaleKey = "akvs.io/serve-stale-on-outage"
    /// This class's mounts rotate at this interval instead of the driver's `--rotation-poll-interval`.
    static let rotationKey = "akvs.io/rotation-poll-interval"
    /// A new value makes the next republish of the class's mounts (or, on a pod, of its mounts) read the vault past every cache.
    static let refreshKey = "akvs.io/refresh-requested-at"
    /// Keep the secretObjects Secrets after the last pod using the class is gone (owned by nothing, labelled so).
    static let retainKey = "akvs.io/retain-secret"
    package static let keys = [serveStaleKey, rotationKey, refreshKey, retainKey]

    var serveStale: Duration
    var rotationInterval: Duration?
    var refreshRequestedAt: String?
    var retainSecret = false

    init(serveStale: Duration = .zero, rotationInterval: Duration? = nil, refreshRequestedAt: String? = nil, retainSecret: Bool = false) {
        self.serveStale = serveStale; self.rotationInterval = rotationInterval; self.refreshRequestedAt = refreshRequestedAt; self.retainSecret = retainSecret
    }

    /// The settings of `spc`; a value that cannot be read fails the mount naming the key and the fix.
    init(_ spc: SecretProviderClass, driverServeStale: Duration) throws(PublishError) {
        let namespace = spc.metadata.namespace ?? "", name = spc.metadata.name ?? ""
        let values = Self.values(spc)
        if let problem = Self.problems(values).first {
            throw .spcInvalid(namespace: namespace, name: name, reason: "\(problem.key) '\(values[problem.key]?.text ?? "")' \(problem.reason)")
        }
        serveStale = values[Self.serveStaleKey].flatMap { DurationText.parse($0.text) } ?? driverServeStale
        rotationInterval = values[Self.rotationKey].flatMap { DurationText.parse($0.text) }
        refreshRequestedAt = values[Self.refreshKey]?.text
        retainSecret = values[Self.retainKey].flatMap { Bool($0.text.lowercased()) } ?? false
    }

    /// Where a setting was given: an annotation wins over a parameter of the same name.
    package enum Source: Sendable { case annotation, parameter }

    /// The class's non-empty akvs.io settings, trimmed, with where each came from.
    package static func values(_ spc: SecretProviderClass) -> [String: (text: String, source: Source)] {
        var found: [String: (text: String, source: Source)] = [:]
        for key in keys {
            if let text = spc.metadata.annotations?[key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty { found[key] = (text, .annotation) }
            else if let text = spc.spec.parameters?[key]?.trimmingCharacters(in: .whitespaces), !text.isEmpty { found[key] = (text, .parameter) }
        }
        return found
    }

    /// Each setting that cannot be read, with what to write instead (also `akvs validate`).
    package static func problems(_ values: [String: (text: String, source: Source)]) -> [(key: String, reason: String)] {
        var problems: [(key: String, reason: String)] = []
        if let text = values[serveStaleKey]?.text, (DurationText.parse(text).map { $0 < .zero } ?? true) {
            problems.append((serveStaleKey, "is not a duration; use e.g. 24h, or 0 to never serve stale content"))
        }
        if let text = values[rotationKey]?.text, (DurationText.parse(text).map { $0 <= .zero } ?? true) {
            problems.append((rotationKey, "is not a positive duration; use e.g. 10m or 1h"))
        }
        if let text = values[retainKey]?.text, Bool(text.lowercased()) == nil {
            problems.append((retainKey, "must be true or false"))
        }
        return problems
    }
}
