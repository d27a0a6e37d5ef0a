import Foundation

/// Every value the vault ever held, by object and generation, with when it was written; consumers' values
/// are looked up here, so a truncated, foreign or older value is recognised.
actor ChaosLedger {
    /// Both halves of a generation's value start with this, so a leak scan finds any of them.
    static let marker = "kvcanary"
    /// `marker-` base64-encoded (Secret data, PEM bodies), aligned as at the start of a value.
    static let markerBase64 = Data("\(marker)-".utf8).base64EncodedString()

    struct Written: Sendable { var gen: Int; var at: ContinuousClock.Instant; var definite: Bool }

    private var byPayload: [String: (object: Int, gen: Int)] = [:]
    private(set) var history: [Int: [Written]] = [:]
    private var random: ChaosRandom

    init(seed: UInt64) { random = ChaosRandom(seed: seed ^ 0xC0FFEE) }

    /// A fresh value for `object` (generation `gen`): the canary payload, or a PEM pair wrapping it.
    func makeValue(object: ChaosWorld.Object, gen: Int) -> String {
        let payload = "\(Self.marker)-\(object.index)-g\(gen)-\(random.hex(12))"
        byPayload[payload] = (object.index, gen)
        guard object.isPEM else { return payload }
        func block(_ label: String, _ suffix: String) -> String {
            let body = Data((payload + suffix).utf8).base64EncodedString()
            return "-----BEGIN \(label)-----\n\(body)\n-----END \(label)-----\n"
        }
        return block("CERTIFICATE", "-crt") + block("PRIVATE KEY", "-key")
    }

    /// Records that the vault now holds `gen` of `object` (`definite` false: the write's outcome is unknown).
    func written(object: Int, gen: Int, definite: Bool) {
        history[object, default: []].append(Written(gen: gen, at: .now, definite: definite))
    }

    /// The generation a consumer's value is, or nil when it is no value the vault ever held for `object`.
    func generation(of value: Data, object: Int, pem: String?) -> Int? {
        guard var text = String(data: value, encoding: .utf8) else { return nil }
        if let pem {
            // tls.crt / tls.key: one PEM block whose body is the payload plus "-crt" / "-key".
            let lines = text.split(separator: "\n").map(String.init)
            guard lines.count == 3, lines[0] == "-----BEGIN \(pem)-----", lines[2] == "-----END \(pem)-----",
                  let decoded = Data(base64Encoded: lines[1]).flatMap({ String(data: $0, encoding: .utf8) }) else { return nil }
            let suffix = pem == "CERTIFICATE" ? "-crt" : "-key"
            guard decoded.hasSuffix(suffix) else { return nil }
            text = String(decoded.dropLast(suffix.count))
        }
        guard let found = byPayload[text], found.object == object else { return nil }
        return found.gen
    }

    func latestGen(_ object: Int) -> Int { history[object]?.last?.gen ?? 0 }

    /// How long a consumer holding `gen` has been behind: since the first later write (zero when current).
    func staleness(object: Int, gen: Int, now: ContinuousClock.Instant) -> Duration {
        guard let next = history[object]?.first(where: { $0.gen > gen }) else { return .zero }
        return now - next.at
    }

    /// Objects whose last write had an unknown outcome (rewritten at the end so "latest" is certain).
    func uncertain() -> [Int] { history.filter { $0.value.last?.definite == false }.map(\.key) }
}
