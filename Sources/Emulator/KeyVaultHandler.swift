import Foundation
import HTTPTypes
import Hummingbird
import KeyVault
import NIOCore

/// Serves the Key Vault data plane of every emulated vault (the Host header names the vault).
struct KeyVaultHandler: Sendable {
    let state: EmulatorState
    let tokens: TokenService
    let counters: Counters
    /// `https://localhost:PORT` (challenge authority) and the resource the challenge names.
    let authorityHost: String

    static let apiVersions: Set<String> = ["2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01"]

    var challenge: String {
        "Bearer authorization=\"\(authorityHost)/\(tokens.tenantID)\", resource=\"\(tokens.resource)\""
    }

    func handle(vault: String, request: Request, body: ByteBuffer, host: String) async -> Response {
        var object: String?
        var response = await respond(vault: vault, request: request, body: body, host: host, countedObject: &object)
        await counters.vaultRequest(vault, status: Int(response.status.code), object: object)
        // Headers Key Vault sets on every reply; the client request id is echoed back.
        response.headers[.requestID] = UUID().uuidString.lowercased()
        response.headers[.keyVaultServiceVersion] = "1.9.0.0"
        response.headers[.keyVaultRegion] = "emulator"
        if let clientRequestID = request.headers[.clientRequestID] { response.headers[.clientRequestID] = clientRequestID }
        return response
    }

    private func respond(vault: String, request: Request, body: ByteBuffer, host: String, countedObject: inout String?) async -> Response {
        guard let faults = await state.faults(vault: vault) else {
            return Reply.kvError(KVFailure(status: 404, code: "VaultNotFound", message: "Vault \(vault) does not exist in this emulator; seed it or check the vault name"))
        }
        if let latency = faults.latencyMs, latency > 0 || (faults.jitterMs ?? 0) > 0 {
            let jitter = (faults.jitterMs ?? 0) > 0 ? Double.random(in: 0...(faults.jitterMs ?? 0)) : 0
            try? await Task.sleep(for: .milliseconds(Int64(latency + jitter)))
        }
        if faults.outage == true {
            return Reply.kvError(KVFailure(status: 503, code: "ServiceUnavailable", message: "The service is unavailable (emulated outage)."))
        }
        // Authentication: every 401 carries the challenge; a bodiless probe is answered before the body is read.
        let authorization = request.headers[.authorization] ?? ""
        guard authorization.lowercased().hasPrefix("bearer "), authorization.count > 7 else {
            return unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        }
        let claims: AccessClaims
        switch tokens.validateAccessToken(String(authorization.dropFirst(7))) {
        case .success(let c): claims = c
        case .failure(.audience(let aud)): return unauthorized("AKV10022: Invalid audience. Expected \(tokens.resource), found: \(aud).")
        case .failure(.issuer(let iss)): return unauthorized("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/\(tokens.tenantID)/, found: \(iss).")
        case .failure(.expired): return unauthorized("AKV10021: Token has expired or is not yet valid.")
        case .failure(.badSignature): return unauthorized("AKV10013: Invalid token signature.")
        case .failure(.malformed): return unauthorized("AKV10000: The token is malformed.")
        }
        let query = queryItems(request.uri.query)
        guard let apiVersion = query["api-version"] else {
            return Reply.kvError(.badParameter("The 'api-version' query parameter is missing; add ?api-version=7.5 or a later version."))
        }
        guard Self.apiVersions.contains(apiVersion) else {
            return Reply.kvError(.badParameter("The specified version (\(apiVersion)) is not recognized. Consider using the latest supported version (2026-04-01)."))
        }
        let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { String($0).removingPercentEncoding ?? String($0) }
        let write = request.method != .get && request.method != .head
        guard await state.permits(clientID: claims.clientID, vault: vault, write: write) else {
            let action = write ? "write" : "read"
            return Reply.kvError(KVFailure(status: 403, code: "Forbidden",
                message: "Caller is not authorized to perform action on resource. Caller: appid=\(claims.clientID). Action: '\(action)' on vault \(vault). Grant the identity access to the vault.",
                inner: "ForbiddenByRbac"))
        }
        if segments.count >= 2 { countedObject = "\(segments[0])/\(segments[1])" } else { countedObject = segments.first }
        if let retryAfter = await state.admitThrottled(vault: vault, write: write) {
            var headers = HTTPFields()
            headers[.retryAfter] = String(retryAfter)
            return Reply.kvError(KVFailure(status: 429, code: "Throttled", message: "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"), headers: headers)
        }
        if let rate = faults.errorRate, rate > 0, Double.random(in: 0..<1) < rate {
            return Reply.kvError(KVFailure(status: 500, code: "InternalServerError", message: "An unexpected error occurred (emulated fault)."))
        }
        do {
            return try await route(vault: vault, method: request.method, segments: segments, query: query, body: body, host: host)
        } catch {
            return Reply.kvError(error)
        }
    }

    private func unauthorized(_ message: String) -> Response {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = challenge
        return Reply.kvError(KVFailure(status: 401, code: "Unauthorized", message: message), headers: headers)
    }

    private func route(vault: String, method: HTTPRequest.Method, segments: [String], query: [String: String], body: ByteBuffer, host: String) async throws(KVFailure) -> Response {
        guard let collection = segments.first, let kind = ObjectKind.allCases.first(where: { $0.collection == collection }) else {
            throw KVFailure(status: 400, code: "BadParameter", message: "Unknown path /\(segments.joined(separator: "/")); this emulator serves secrets, keys and certificates.")
        }
        let name = segments.count > 1 ? segments[1] : ""
        let tail = segments.count > 2 ? segments[2] : ""
        if segments.count > 3, !(segments.count == 4 && segments[3].isEmpty) {
            throw KVFailure(status: 400, code: "BadParameter", message: "Unknown path /\(segments.joined(separator: "/")).")
        }
        if !name.isEmpty {
            do { try KeyVaultValidation.objectName(name, field: "name") } catch { throw .badParameter("The object name '\(name)' is invalid: use 1-127 letters, digits and dashes.") }
        }
        switch (kind, method, name.isEmpty, tail) {
        case (_, .get, true, _):
            return try await page(listAll(kind, vault: vault), query: query, host: host, path: "/\(kind.collection)")
        case (_, .get, false, "versions"):
            return try await page(listVersions(kind, vault: vault, name: name), query: query, host: host, path: "/\(kind.collection)/\(name)/versions")
        case (.secret, .get, false, _):
            return Reply.json(.ok, try await state.getSecret(vault: vault, name: name, version: tail, outContentType: query["outContentType"]))
        case (.key, .get, false, _):
            return Reply.json(.ok, try await state.getKey(vault: vault, name: name, version: tail))
        case (.certificate, .get, false, "pending"):
            return Reply.json(.ok, try await state.certificateOperation(vault: vault, name: name))
        case (.certificate, .delete, false, "pending"):
            return Reply.json(.ok, try await state.deleteCertificateOperation(vault: vault, name: name))
        case (.certificate, .get, false, "policy"):
            return Reply.json(.ok, try await state.getCertificate(vault: vault, name: name, version: "").policy)
        case (.certificate, .get, false, _):
            return Reply.json(.ok, try await state.getCertificate(vault: vault, name: name, version: tail))
        case (.secret, .put, false, ""):
            let input = try decode(SecretBundle.self, body)
            guard let value = input.value else { throw .badParameter("Property 'value' is required in the request body.") }
            return Reply.json(.ok, try await state.setSecret(vault: vault, name: name, value: value, contentType: input.contentType, tags: input.tags,
                                                             enabled: input.attributes?.enabled ?? true, notBefore: input.attributes?.nbf, expires: input.attributes?.exp))
        case (.secret, .patch, false, _):
            return Reply.json(.ok, try await state.updateSecret(vault: vault, name: name, version: tail, patch: try decode(SecretBundle.self, body)))
        case (.key, .post, false, "create"):
            let input = try decode(KeyCreateBody.self, body)
            let spec = try EmulatorState.keySpec(kty: input.kty, size: input.keySize, curve: input.crv, field: "kty")
            return Reply.json(.ok, try await state.createKey(vault: vault, name: name, spec: spec, tags: input.tags, enabled: input.attributes?.enabled ?? true))
        case (.certificate, .post, false, "create"):
            let input = try decode(CertificateCreateBody.self, body)
            let creation = try input.creation(name: name)
            _ = try await state.createCertificate(vault: vault, name: name, creation)
            // As Key Vault: 202 with the operation in progress; the SDKs' pollers then read `…/pending` (completed).
            var accepted = Reply.json(.ok, EmulatorState.operation(try await state.readVault(vault), name: name, status: "inProgress"))
            accepted.status = .accepted
            return accepted
        case (.certificate, .post, false, "import"):
            let input = try decode(CertificateImportBody.self, body)
            guard let value = input.value, !value.isEmpty else { throw .badParameter("Property 'value' is required: the PEM (or PFX) to import.") }
            let contentType = input.policy?.secretProps?.contentType ?? (value.contains("-----BEGIN") ? EmulatorState.pemContentType : EmulatorState.pkcs12ContentType)
            return Reply.json(.ok, try await state.importCertificate(vault: vault, name: name, value: value, password: input.pwd, contentType: contentType,
                                                                     tags: input.tags, enabled: input.attributes?.enabled ?? true))
        case (.certificate, .patch, false, _):
            let input = try decode(CertificateCreateBody.self, body)
            return Reply.json(.ok, try await state.updateCertificate(vault: vault, name: name, version: tail, attributes: input.attributes, tags: input.tags))
        default:
            throw KVFailure(status: 405, code: "MethodNotAllowed", message: "\(method) is not supported on /\(segments.joined(separator: "/")).")
        }
    }

    private func listAll(_ kind: ObjectKind, vault: String) async throws(KVFailure) -> [ObjectItem] {
        switch kind {
        case .secret: return try await state.listSecrets(vault: vault)
        case .key, .certificate:
            let record = try await state.readVault(vault)
            let names = kind == .key ? record.keys.keys.sorted() : record.certificates.keys.sorted()
            return names.map { kind == .key ? ObjectItem(kid: "\(record.baseURL)/keys/\($0)") : ObjectItem(id: "\(record.baseURL)/certificates/\($0)") }
        }
    }

    private func listVersions(_ kind: ObjectKind, vault: String, name: String) async throws(KVFailure) -> [ObjectItem] {
        switch kind {
        case .secret: return try await state.listSecretVersions(vault: vault, name: name)
        case .key: return try await state.listKeyVersions(vault: vault, name: name)
        case .certificate: return try await state.listCertificateVersions(vault: vault, name: name)
        }
    }

    /// One page with a nextLink on the request's own host:port.
    private func page(_ items: [ObjectItem], query: [String: String], host: String, path: String) throws(KVFailure) -> Response {
        let pageSize: Int
        if let raw = query["maxresults"] {
            guard let n = Int(raw), (1...25).contains(n) else { throw .badParameter("Invalid maxresults \(raw): it must be between 1 and 25.") }
            pageSize = n
        } else {
            pageSize = 25
        }
        let skip = query["$skiptoken"].flatMap(Int.init) ?? 0
        guard skip >= 0 else { throw .badParameter("Invalid $skiptoken.") }
        let slice = Array(items.dropFirst(skip).prefix(pageSize))
        var next: String?
        if skip + pageSize < items.count {
            next = "https://\(host)\(path)?api-version=\(query["api-version"] ?? "7.5")&$skiptoken=\(skip + pageSize)&maxresults=\(pageSize)"
        }
        return Reply.json(.ok, ItemPage(value: slice, nextLink: next))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws(KVFailure) -> T {
        guard body.readableBytes > 0 else { throw .badParameter("The request body is empty; send a JSON object.") }
        do { return try JSONDecoder().decode(T.self, from: Data(buffer: body)) } catch {
            throw .badParameter("The request body is not valid JSON for this operation: \(error)")
        }
    }
}

struct KeyCreateBody: Decodable {
    var kty: String?
    var keySize: Int?
    var crv: String?
    var attributes: ObjectAttributes?
    var tags: [String: String]?
    enum CodingKeys: String, CodingKey { case kty, keySize = "key_size", crv, attributes, tags }
}

struct CertificateCreateBody: Decodable {
    var policy: CertificatePolicy?
    var attributes: ObjectAttributes?
    var tags: [String: String]?

    func creation(name: String) throws(KVFailure) -> CertificateCreation {
        let key = policy?.keyProps
        let spec = try EmulatorState.keySpec(kty: key?.kty, size: key?.keySize, curve: key?.crv, field: "policy.key_props")
        let x509 = policy?.x509Props
        let months = x509?.validityMonths ?? 12
        guard (1...120).contains(months) else { throw .badParameter("policy.x509_props.validity_months must be 1-120.") }
        let request = CertificateRequest(subject: x509?.subject ?? "CN=\(name)", dnsNames: x509?.sans?.dnsNames ?? [], validityMonths: months)
        return CertificateCreation(request: request, keySpec: spec, issuerName: policy?.issuer?.name ?? "Self",
                                   contentType: policy?.secretProps?.contentType ?? EmulatorState.pkcs12ContentType,
                                   tags: tags, enabled: attributes?.enabled ?? true)
    }
}

struct CertificateImportBody: Decodable {
    var value: String?
    var pwd: String?
    var policy: CertificatePolicy?
    var attributes: ObjectAttributes?
    var tags: [String: String]?
}

struct CertificateOperation: Codable, Sendable {
    var id: String
    var issuer: CertificatePolicy.Issuer
    var status: String
    var target: String
    var requestId: String
    var cancellationRequested = false
    enum CodingKeys: String, CodingKey { case id, issuer, status, target, requestId = "request_id", cancellationRequested = "cancellation_requested" }
}
