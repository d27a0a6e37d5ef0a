import Foundation
import SecretsStoreAPI

/// Maps provider files onto Secret keys (`sourcePath` → `targetKey`), with the checks upstream makes.
struct SecretDataBuilder {
    struct Built {
        var data: [String: Data] = [:]
        /// Items that could not be filled: targetKey → why (never a value).
        var missing: [String: String] = [:]
    }

    static let reservedPrefix = SecretSync.managedLabel
    static let deniedTypes: Set<String> = ["kubernetes.io/service-account-token"]

    /// Rejects what upstream's CRD rules and admission policies reject, with the field and the fix.
    static func validate(_ sync: SecretSync) throws(SyncFailure) {
        let object = sync.spec.secretObject
        guard !object.data.isEmpty else {
            throw SyncFailure(.userInputValidationFailed, "spec.secretObject.data is empty: list at least one {sourcePath, targetKey}")
        }
        var seen = Set<String>()
        for (i, item) in object.data.enumerated() {
            guard !item.targetKey.isEmpty, item.targetKey.count <= 253, item.targetKey.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else {
                throw SyncFailure(.userInputValidationFailed, "spec.secretObject.data[\(i)].targetKey '\(item.targetKey)' is not a valid Secret key (letters, digits, '-', '_', '.')")
            }
            guard seen.insert(item.targetKey).inserted else {
                throw SyncFailure(.userInputValidationFailed, "spec.secretObject.data[\(i)].targetKey '\(item.targetKey)' appears twice")
            }
            guard !item.sourcePath.isEmpty, !item.sourcePath.hasPrefix("/"), !item.sourcePath.split(separator: "/").contains("..") else {
                throw SyncFailure(.userInputValidationFailed, "spec.secretObject.data[\(i)].sourcePath '\(item.sourcePath)' must be a file path of the provider's response (object name or alias, 'name/N' for version history)")
            }
        }
        if let type = object.type, deniedTypes.contains(type) {
            throw SyncFailure(.userInputValidationFailed, "spec.secretObject.type '\(type)' is not allowed: use Opaque or another non-token type")
        }
        for key in (object.labels ?? [:]).keys where key.hasPrefix(reservedPrefix) {
            throw SyncFailure(.invalidClusterSecretLabelError, "spec.secretObject.labels key '\(key)' is reserved for the controller: remove it")
        }
        for key in (object.annotations ?? [:]).keys where key.hasPrefix(reservedPrefix) {
            throw SyncFailure(.invalidClusterSecretAnnotationError, "spec.secretObject.annotations key '\(key)' is reserved for the controller: remove it")
        }
    }

    /// The file names to fetch: the first path segment of every sourcePath.
    static func referencedFiles(_ sync: SecretSync) -> Set<String> {
        Set(sync.spec.secretObject.data.map { String($0.sourcePath.split(separator: "/").first ?? "") })
    }

    static func build(_ sync: SecretSync, fetched: FetchedObjects) -> Built {
        var built = Built()
        let type = sync.spec.secretObject.type ?? "Opaque"
        let available = fetched.files.keys.sorted()
        for item in sync.spec.secretObject.data {
            let file = String(item.sourcePath.split(separator: "/").first ?? "")
            guard let contents = fetched.files[item.sourcePath] else {
                if let failure = fetched.failures[file] {
                    built.missing[item.targetKey] = failure
                } else {
                    built.missing[item.targetKey] = "sourcePath '\(item.sourcePath)' is not in the provider's response (files: \(available.joined(separator: ", "))); use an objectName or objectAlias of the SecretProviderClass"
                }
                continue
            }
            if type == "kubernetes.io/tls", item.targetKey == "tls.crt" || item.targetKey == "tls.key" {
                guard let extracted = TLSExtraction.extract(item.targetKey == "tls.crt" ? .certificates : .privateKey, from: contents) else {
                    built.missing[item.targetKey] = "sourcePath '\(item.sourcePath)' holds no PEM \(item.targetKey == "tls.crt" ? "certificate" : "private key") for a kubernetes.io/tls Secret; fetch the certificate as objectType secret (PEM key + chain)"
                    continue
                }
                built.data[item.targetKey] = extracted
            } else {
                built.data[item.targetKey] = Data(contents)
            }
        }
        return built
    }
}

/// Splits PEM text into the certificate chain or the private key, for `kubernetes.io/tls` Secrets.
enum TLSExtraction {
    enum Part { case certificates, privateKey }

    static func extract(_ part: Part, from contents: [UInt8]) -> Data? {
        let text = String(decoding: contents, as: UTF8.self)
        var blocks: [String] = []
        var current: [Substring] = []
        var label: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("-----BEGIN "), trimmed.hasSuffix("-----") {
                label = String(trimmed.dropFirst(11).dropLast(5)); current = [Substring(trimmed)]
            } else if let l = label {
                current.append(Substring(trimmed))
                if trimmed == "-----END \(l)-----" {
                    let wanted = part == .certificates ? l == "CERTIFICATE" : l.hasSuffix("PRIVATE KEY")
                    if wanted { blocks.append(current.joined(separator: "\n")) }
                    label = nil; current = []
                }
            }
        }
        guard !blocks.isEmpty else { return nil }
        let chosen = part == .certificates ? blocks : [blocks[0]]
        return Data((chosen.joined(separator: "\n") + "\n").utf8)
    }
}
