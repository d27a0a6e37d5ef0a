import Foundation
import SecretsStoreAPI

/// Maps provider files onto Secret keys (`sourcePath` → `targetKey`), with the checks upstream makes.
package struct SecretDataBuilder {
    struct Built {
        var data: [String: Data] = [:]
        /// Items that could not be filled: targetKey → why (never a value).
        var missing: [String: String] = [:]
    }

    static let reservedPrefix = SecretSync.managedLabel
    static let deniedTypes: Set<String> = ["kubernetes.io/service-account-token"]

    /// Rejects what upstream's CRD rules and admission policies reject, with the field and the fix.
    static func validate(_ sync: SecretSync) throws(SyncFailure) {
        if let first = problems(sync).first { throw first }
    }

    /// Every problem `validate` would reject, in its order (`akvs validate` reports them all).
    package static func problems(_ sync: SecretSync) -> [SyncFailure] {
        var found: [SyncFailure] = []
        let object = sync.spec.secretObject
        if object.data.isEmpty {
            found.append(SyncFailure(.userInputValidationFailed, "spec.secretObject.data is empty: list at least one {sourcePath, targetKey}", field: "spec.secretObject.data"))
        }
        var seen = Set<String>()
        for (i, item) in object.data.enumerated() {
            let field = "spec.secretObject.data[\(i)]"
            if item.targetKey.isEmpty || item.targetKey.count > 253 || !item.targetKey.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) {
                found.append(SyncFailure(.userInputValidationFailed, "\(field).targetKey '\(item.targetKey)' is not a valid Secret key (letters, digits, '-', '_', '.')", field: "\(field).targetKey"))
            } else if !seen.insert(item.targetKey).inserted {
                found.append(SyncFailure(.userInputValidationFailed, "\(field).targetKey '\(item.targetKey)' appears twice", field: "\(field).targetKey"))
            }
            if item.sourcePath.isEmpty || item.sourcePath.hasPrefix("/") || item.sourcePath.split(separator: "/").contains("..") {
                found.append(SyncFailure(.userInputValidationFailed, "\(field).sourcePath '\(item.sourcePath)' must be a file path of the provider's response (object name or alias, 'name/N' for version history)", field: "\(field).sourcePath"))
            }
        }
        if let type = object.type, deniedTypes.contains(type) {
            found.append(SyncFailure(.userInputValidationFailed, "spec.secretObject.type '\(type)' is not allowed: use Opaque or another non-token type", field: "spec.secretObject.type"))
        }
        for key in (object.labels ?? [:]).keys.sorted() where key.hasPrefix(reservedPrefix) {
            found.append(SyncFailure(.invalidClusterSecretLabelError, "spec.secretObject.labels key '\(key)' is reserved for the controller: remove it", field: "spec.secretObject.labels.\(key)"))
        }
        for key in (object.annotations ?? [:]).keys.sorted() where key.hasPrefix(reservedPrefix) {
            found.append(SyncFailure(.invalidClusterSecretAnnotationError, "spec.secretObject.annotations key '\(key)' is reserved for the controller: remove it", field: "spec.secretObject.annotations.\(key)"))
        }
        return found
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
