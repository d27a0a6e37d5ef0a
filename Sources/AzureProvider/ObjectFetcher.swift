import AzureIdentity
import Foundation
import KeyVault
import ObjectFormats

/// Fetches one SPC object (and its version history) through the shared cache and formats its files.
struct ObjectFetcher: Sendable {
    let client: KeyVaultClient
    let cache: ObjectCache
    let identity: String
    let configuration: ProviderConfiguration
    let metrics: any ProviderMetricsRecorder
    /// The oldest cached result this caller accepts; nil takes the cache's own TTL.
    var maxAge: Duration? = nil

    /// The files of one SPC object and the validity of each version delivered (by version id).
    struct Delivered: Sendable {
        var files: [(MountedFile, MountedObjectVersion)]
        var validity: [String: ObjectValidity] = [:]
        /// An optional object that does not exist or is disabled: its id (`secret/name`), no files.
        var missingOptional: String?
    }

    func deliver(_ object: KeyVaultObject, defaultMode: Int32) async -> Result<Delivered, ObjectFailure> {
        do {
            if object.objectVersionHistory > 1 {
                return .success(try await history(object, defaultMode: defaultMode))
            }
            let fetched = try await fetch(object, version: object.objectVersion)
            let id = "\(object.objectType.rawValue)/\(object.objectName)"
            let mode = object.filePermission ?? defaultMode
            var files = [(MountedFile(path: object.fileName, mode: mode, contents: fetched.bytes), MountedObjectVersion(id: id, version: fetched.version))]
            for (suffix, contents) in fetched.extra {
                files.append((MountedFile(path: object.fileName + suffix, mode: mode, contents: contents), MountedObjectVersion(id: id, version: fetched.version)))
            }
            return .success(Delivered(files: files, validity: fetched.validity.map { [id: $0] } ?? [:]))
        } catch let failure as ObjectFailure {
            return .failure(failure)
        } catch let error as KeyVaultError {
            var result = failure(object, "\(error)")
            result.transient = error.isTransient
            result.status = error.status
            result.code = error.code
            if object.optional, [.notFound, .disabled].contains(result.failureClass) {
                return .success(Delivered(files: [], missingOptional: "\(object.objectType.rawValue)/\(object.objectName)"))
            }
            return .failure(result)
        } catch {
            return .failure(failure(object, "\(error)"))
        }
    }

    /// Newest first, enabled versions only, starting at the requested version; files `<name>/0`, `/1`, …
    func history(_ object: KeyVaultObject, defaultMode: Int32) async throws -> Delivered {
        let listed = try await cached("\(object.kind.collection)/\(object.objectName)/versions") { () async throws(KeyVaultError) -> FetchedObject in
            .versions(try await client.listVersions(object.kind, name: object.objectName))
        }
        guard case .versions(let items) = listed else { throw failure(object, "unexpected list reply") }
        // Newest first by creation time; versions created in the same second keep the service's order (later = newer).
        let ordered = items.enumerated().filter { $0.element.attributes?.enabled != false }
            .sorted { a, b in
                let (ca, cb) = (a.element.attributes?.created ?? 0, b.element.attributes?.created ?? 0)
                return ca != cb ? ca > cb : a.offset > b.offset
            }
            .compactMap { ($0.element.id ?? $0.element.kid)?.keyVaultVersion }
        var start = 0
        if !object.objectVersion.isEmpty {
            guard let index = ordered.firstIndex(of: object.objectVersion.lowercased()) else {
                throw failure(object, "version \(object.objectVersion) is not among the enabled versions")
            }
            start = index
        }
        let chosen = Array(ordered.dropFirst(start).prefix(object.objectVersionHistory))
        let mode = object.filePermission ?? defaultMode
        return try await withThrowingTaskGroup(of: (Int, MountedFile, MountedObjectVersion, ObjectValidity?).self) { group in
            for (index, version) in chosen.enumerated() {
                group.addTask {
                    let fetched = try await fetch(object, version: version)
                    return (index, MountedFile(path: object.historyPath(index), mode: mode, contents: fetched.bytes),
                            MountedObjectVersion(id: "\(object.objectType.rawValue)/\(object.objectName)/\(index)", version: fetched.version), fetched.validity)
                }
            }
            var out: [(Int, MountedFile, MountedObjectVersion, ObjectValidity?)] = []
            for try await item in group { out.append(item) }
            out.sort { $0.0 < $1.0 }
            var delivered = Delivered(files: out.map { ($0.1, $0.2) })
            for item in out { if let validity = item.3 { delivered.validity[item.2.id] = validity } }
            return delivered
        }
    }

    /// One object version as delivered: file bytes, its version id, extra files (suffix, bytes) and its validity.
    struct Fetched {
        var bytes: [UInt8]
        var version: String
        var extra: [(String, [UInt8])] = []
        var validity: ObjectValidity?
    }

    func fetch(_ object: KeyVaultObject, version: String) async throws -> Fetched {
        let path = "\(object.kind.collection)/\(object.objectName)/\(version)"
        switch object.objectType {
        case .secret:
            guard case .secret(let bundle) = try await cached(path, { () async throws(KeyVaultError) -> FetchedObject in
                .secret(try await client.getSecret(object.objectName, version: version))
            }) else { throw failure(object, "unexpected reply") }
            return Fetched(bytes: try formatSecret(bundle, object), version: bundle.id?.keyVaultVersion ?? "", extra: try separateFiles(bundle, object),
                           validity: Self.validity(bundle.attributes))
        case .key:
            guard case .key(let bundle) = try await cached(path, { () async throws(KeyVaultError) -> FetchedObject in
                .key(try await client.getKey(object.objectName, version: version))
            }) else { throw failure(object, "unexpected reply") }
            let jwk = bundle.key
            do {
                let pem = try PublicKeyPEM.fromJWK(kty: jwk.kty, n: jwk.n, e: jwk.e, crv: jwk.crv, x: jwk.x, y: jwk.y)
                return Fetched(bytes: Array(pem.utf8), version: jwk.kid?.keyVaultVersion ?? "", validity: Self.validity(bundle.attributes))
            } catch {
                throw failure(object, "\(error)")
            }
        case .cert:
            guard case .certificate(let bundle) = try await cached(path, { () async throws(KeyVaultError) -> FetchedObject in
                .certificate(try await client.getCertificate(object.objectName, version: version))
            }) else { throw failure(object, "unexpected reply") }
            guard let cer = bundle.cer, let der = Data(base64Encoded: cer) else { throw failure(object, "the certificate has no cer (DER) field") }
            var validity = Self.validity(bundle.attributes) ?? ObjectValidity()
            if let own = CertificateValidity.of(der: Array(der)) { validity = validity.intersecting(notBefore: own.notBefore, expires: own.notAfter) }
            return Fetched(bytes: Array(PEM.encode(label: "CERTIFICATE", der: Array(der)).utf8), version: bundle.id?.keyVaultVersion ?? "", validity: validity)
        }
    }

    /// Key Vault's `nbf`/`exp` (seconds since 1970); nil when it sets neither.
    static func validity(_ attributes: ObjectAttributes?) -> ObjectValidity? {
        guard let attributes, attributes.nbf != nil || attributes.exp != nil else { return nil }
        return ObjectValidity(notBefore: attributes.nbf.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                              expires: attributes.exp.map { Date(timeIntervalSince1970: TimeInterval($0)) })
    }

    func formatSecret(_ bundle: SecretBundle, _ object: KeyVaultObject) throws -> [UInt8] {
        let value = bundle.value ?? ""
        // As upstream: pfx writes the stored (base64) value through objectEncoding; use objectEncoding: base64 for binary PFX.
        if bundle.kid != nil, object.objectFormat == .pfx, bundle.contentType == "application/x-pkcs12" {
            do { return try object.objectEncoding.decode(value) } catch {
                throw failure(object, "the value cannot be decoded as \(object.objectEncoding): \(error)")
            }
        }
        if bundle.kid != nil {
            do {
                return try SecretFormatter.format(value: value, contentType: bundle.contentType ?? "", format: object.objectFormat,
                                                  constructChain: configuration.constructPEMChain)
            } catch {
                throw failure(object, "\(error)")
            }
        }
        if object.objectFormat == .pfx {
            throw failure(object, "objectFormat pfx needs a secret that backs a certificate; remove objectFormat for a plain secret")
        }
        do { return try object.objectEncoding.decode(value) } catch {
            throw failure(object, "the value cannot be decoded as \(object.objectEncoding): \(error)")
        }
    }

    /// `--write-cert-and-key-in-separate-files`: `.crt` (certificates) and `.key` (everything else).
    func separateFiles(_ bundle: SecretBundle, _ object: KeyVaultObject) throws -> [(String, [UInt8])] {
        guard configuration.writeCertAndKeyInSeparateFiles, bundle.kid != nil, object.objectFormat == .pem else { return [] }
        let pem = String(decoding: try formatSecret(bundle, object), as: UTF8.self)
        let blocks = PEM.decodeAll(pem)
        let certs = blocks.filter { $0.label == "CERTIFICATE" }.map { PEM.encode(label: $0.label, der: $0.der) }.joined()
        let keys = blocks.filter { $0.label != "CERTIFICATE" }.map { PEM.encode(label: $0.label, der: $0.der) }.joined()
        return [(".crt", Array(certs.utf8)), (".key", Array(keys.utf8))]
    }

    func cached(_ path: String, _ fetch: @escaping @Sendable () async throws(KeyVaultError) -> FetchedObject) async throws -> FetchedObject {
        let parts = path.split(separator: "/")
        let type = parts.first.map { $0 == "secrets" ? "secret" : $0 == "keys" ? "key" : "cert" } ?? ""
        let name = parts.count > 1 ? String(parts[1]) : ""
        let metrics = self.metrics
        return try await cache.value(for: FetchKey(identity: identity, vault: client.vaultURL.absoluteString, path: path), maxAge: maxAge) { () async throws(KeyVaultError) -> FetchedObject in
            try await Self.timed(fetch, type: type, name: name, metrics: metrics)
        }
    }

    /// Runs one real Key Vault read and reports it as `keyvault_request`.
    static func timed(_ fetch: @Sendable () async throws(KeyVaultError) -> FetchedObject, type: String, name: String,
                      metrics: any ProviderMetricsRecorder) async throws(KeyVaultError) -> FetchedObject {
        let start = ContinuousClock.now
        do {
            let value = try await fetch()
            metrics.keyVaultRequest(objectType: type, objectName: name, error: "", seconds: (ContinuousClock.now - start).seconds)
            return value
        } catch {
            metrics.keyVaultRequest(objectType: type, objectName: name, error: metricCode(error), seconds: (ContinuousClock.now - start).seconds)
            throw error
        }
    }

    /// A short, bounded label value for an error (the Key Vault code, or the HTTP status).
    static func metricCode(_ error: KeyVaultError) -> String {
        if let code = error.code { return code }
        if let status = error.status { return "HTTP\(status)" }
        return "transport"
    }

    func failure(_ object: KeyVaultObject, _ reason: String) -> ObjectFailure {
        ObjectFailure(type: object.objectType.rawValue, name: object.objectName, version: object.objectVersion, reason: reason)
    }
}

extension Duration {
    /// This duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
