import Crypto
import Foundation
import Kubernetes
import SecretsStoreAPI
import Serving

/// A Secret as the restarter caches it: its metadata and a digest of its type and data, never the values.
public struct SecretDigest: APIObject, Equatable {
    public static let resourceKind = Secret.resourceKind
    public var metadata: ObjectMeta
    /// 16 hex digits of SHA-256 over the type and the sorted data (as the API sends it, base64).
    public var digest: String

    enum Keys: String, CodingKey { case apiVersion, kind, metadata, type, data }

    public init(metadata: ObjectMeta, type: String?, data: [String: String]) {
        self.metadata = metadata
        digest = Self.digest(type: type, data: data)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        digest = Self.digest(type: try c.decodeIfPresent(String.self, forKey: .type), data: try c.decodeIfPresent([String: String].self, forKey: .data) ?? [:])
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode("v1", forKey: .apiVersion)
        try c.encode("Secret", forKey: .kind)
        try c.encode(metadata, forKey: .metadata)
    }

    /// The digest of a Secret's type and data (base64 values, as on the wire): equal bytes, equal digest.
    public static func digest(type: String?, data: [String: String]) -> String {
        var hasher = SHA256()
        hasher.update(data: Data((type ?? "Opaque").utf8 + [0]))
        for (key, value) in data.sorted(by: { $0.key < $1.key }) {
            hasher.update(data: Data(key.utf8 + [0] + value.utf8 + [0]))
        }
        return short(hasher.finalize())
    }

    static func short(_ digest: SHA256.Digest) -> String { lowercaseHex(digest.prefix(8)) }
}

/// The object versions a SecretProviderClass's mounts rotated to: the digest of a pod status's sorted
/// `(id, version)` list, taken when a pod's SecretProviderClassPodStatus records new versions (a rotation).
enum ClassVersions {
    static func digest(_ objects: [SecretProviderClassPodStatus.ObjectVersion]) -> String {
        var hasher = SHA256()
        for object in objects.sorted(by: { $0.id < $1.id }) {
            hasher.update(data: Data(object.id.utf8 + [0] + object.version.utf8 + [0]))
        }
        return SecretDigest.short(hasher.finalize())
    }
}

/// `akvs.io/restart-inputs`: input → digest, as compact sorted JSON.
public enum RecordedInputs {
    public static func decode(_ text: String?) -> [Input: String]? {
        guard let text, let data = text.data(using: .utf8), let map = try? JSONDecoder().decode([String: String].self, from: data) else { return nil }
        return Dictionary(map.compactMap { key, value in Input(key).map { ($0, value) } }, uniquingKeysWith: { a, _ in a })
    }

    public static func encode(_ inputs: [Input: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let map = Dictionary(inputs.map { ($0.key.description, $0.value) }, uniquingKeysWith: { a, _ in a })
        return String(decoding: (try? encoder.encode(map)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// A short name for a set of inputs (the pod template's `akvs.io/restarted-for`).
    public static func fingerprint(_ inputs: [Input: String]) -> String {
        var hasher = SHA256()
        hasher.update(data: Data(encode(inputs).utf8))
        return SecretDigest.short(hasher.finalize())
    }
}
