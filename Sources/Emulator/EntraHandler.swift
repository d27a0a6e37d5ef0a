import AzureIdentity
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Serves the Entra ID endpoints MSAL and azure-identity use: token, OIDC metadata, instance discovery.
struct EntraHandler: Sendable {
    let state: EmulatorState
    let tokens: TokenService
    let counters: Counters
    /// `https://localhost:PORT`.
    let authorityHost: String

    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    static let exchangeAudience = "api://AzureADTokenExchange"

    /// Routes `/{tenant}/…`; nil when the path is not an Entra path.
    func handle(request: Request, body: ByteBuffer) async -> Response? {
        let parts = request.uri.path.split(separator: "/").map(String.init)
        if parts == ["common", "discovery", "instance"] { return discovery() }
        guard parts.count >= 2 else { return nil }
        let tenant = parts[0]
        let rest = Array(parts.dropFirst())
        if rest == ["v2.0", ".well-known", "openid-configuration"] || rest == [".well-known", "openid-configuration"] {
            return openIDConfiguration(tenant: tenant)
        }
        if rest == ["oauth2", "v2.0", "token"] || rest == ["oauth2", "token"] {
            guard request.method == .post else { return entraError(405, "invalid_request", 900561, "The endpoint only accepts POST requests.") }
            let form = FormEncoding.decode(String(buffer: body))
            if await state.tokenFaults.fails() {
                let response = entraError(503, "temporarily_unavailable", 50196, "The service is temporarily unavailable (emulated token endpoint fault). Retry later.")
                await counters.tokenRequest(client: form["client_id"], status: 503)
                return response
            }
            let (response, client) = await token(tenant: tenant, form: form)
            await counters.tokenRequest(client: client, status: Int(response.status.code))
            return response
        }
        if rest == ["discovery", "v2.0", "keys"] || rest == ["discovery", "keys"] {
            return Reply.json(.ok, JSONValue.object(["keys": .array([publicJWK(of: tokens.signingKey, keyID: TokenService.signingKeyID)])]))
        }
        return nil
    }

    func token(tenant: String, form: [String: String]) async -> (Response, String?) {
        guard tenant.lowercased() == tokens.tenantID.lowercased() else {
            return (entraError(400, "invalid_request", 90002, "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."), nil)
        }
        guard form["grant_type"] == "client_credentials" else {
            return (entraError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '\(form["grant_type"] ?? "")'; use client_credentials."), nil)
        }
        guard let clientID = form["client_id"], !clientID.isEmpty else {
            return (entraError(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."), nil)
        }
        // The v1 endpoint names a resource instead of a scope.
        let requested = form["scope"] ?? form["resource"].map { $0 + "/.default" }
        guard let scope = requested, scope.hasSuffix("/.default") else {
            return (entraError(400, "invalid_scope", 1002012, "The provided value for scope \(form["scope"] ?? "") is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier."), clientID)
        }
        var resource = String(scope.dropLast("/.default".count))
        while resource.hasSuffix("/") { resource.removeLast() }
        guard resource == tokens.resource else {
            return (entraError(400, "invalid_resource", 500011, "The resource principal named \(resource) was not found in the tenant named \(tokens.tenantID). This emulator issues tokens for \(tokens.resource)."), clientID)
        }
        guard let identity = await state.identity(clientID: clientID), identity.managedIdentity == nil else {
            return (entraError(400, "unauthorized_client", 700016, "Application with identifier '\(clientID)' was not found in the directory '\(tokens.tenantID)'. This can happen if the application has not been installed by the administrator of the tenant."), clientID)
        }
        if let secret = form["client_secret"] {
            guard let expected = identity.clientSecret, constantTimeEquals(expected, secret) else {
                return (entraError(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(clientID)'."), clientID)
            }
        } else if let assertion = form["client_assertion"] {
            guard form["client_assertion_type"] == Self.assertionType else {
                return (entraError(400, "invalid_request", 700024, "client_assertion_type must be \(Self.assertionType)."), clientID)
            }
            if let failure = await checkAssertion(assertion, identity: identity) { return (failure, clientID) }
        } else {
            return (entraError(400, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."), clientID)
        }
        do {
            let token = try tokens.mintAccessToken(for: identity, resource: tokens.resource)
            let lifetime = Int(tokens.tokenLifetime)
            return (Reply.json(.ok, TokenReply(accessToken: token, expiresIn: lifetime)), clientID)
        } catch {
            return (entraError(500, "server_error", 50000, "Token signing failed."), clientID)
        }
    }

    /// Federated credential check: issuer, subject and audience must match a record; the signature must verify.
    private func checkAssertion(_ assertion: String, identity: IdentityRecord) async -> Response? {
        guard let jwt = JWT(compact: assertion) else {
            return entraError(400, "invalid_client", 50027, "JWT token is invalid or malformed.")
        }
        let iss = jwt.string("iss") ?? "", sub = jwt.string("sub") ?? ""
        let audiences = jwt.audiences
        let matched = identity.federated.contains { record in
            record.issuer == iss && record.subject == sub && audiences.contains(record.audience ?? Self.exchangeAudience)
        }
        guard matched else {
            return entraError(400, "invalid_request", 70021, "No matching federated identity record found for presented assertion. Assertion Issuer: '\(iss)'. Assertion Subject: '\(sub)'. Assertion Audience: '\(audiences.joined(separator: ","))'.")
        }
        let now = Date().timeIntervalSince1970
        guard let exp = jwt.number("exp"), exp > now, (jwt.number("nbf") ?? 0) <= now + 300 else {
            return entraError(400, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        }
        guard let keys = await state.issuerKeys(iss) else {
            return entraError(400, "invalid_client", 50166, "Request to External OIDC endpoint failed: the emulator has no keys for issuer '\(iss)'. Add it under issuers in the seed or POST /_emulator/issuers.")
        }
        let kid = jwt.header["kid"]?.stringValue
        let candidates = keys.filter { key in
            guard let kid, case .object(let o) = key, let keyID = o["kid"]?.stringValue else { return true }
            return keyID == kid
        }
        guard candidates.contains(where: jwt.verify(with:)) else {
            return entraError(401, "invalid_client", 50013, "Assertion failed signature validation. Signature is invalid for the keys of issuer '\(iss)'.")
        }
        return nil
    }

    private func openIDConfiguration(tenant: String) -> Response {
        let base = "\(authorityHost)/\(tenant)"
        return Reply.json(.ok, JSONValue.object([
            "token_endpoint": .string("\(base)/oauth2/v2.0/token"),
            "authorization_endpoint": .string("\(base)/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": .string("\(base)/oauth2/v2.0/devicecode"),
            "issuer": .string("\(base)/v2.0"),
            "jwks_uri": .string("\(base)/discovery/v2.0/keys"),
            "token_endpoint_auth_methods_supported": .array([.string("client_secret_post"), .string("private_key_jwt"), .string("client_secret_basic")]),
            "response_types_supported": .array([.string("code"), .string("id_token"), .string("token")]),
            "tenant_region_scope": .string("NA"),
            "cloud_instance_name": .string("localhost"),
        ]))
    }

    private func discovery() -> Response {
        let host = URL(string: authorityHost)?.host.map { h in URL(string: authorityHost)?.port.map { "\(h):\($0)" } ?? h } ?? "localhost"
        return Reply.json(.ok, JSONValue.object([
            "tenant_discovery_endpoint": .string("\(authorityHost)/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": .string("1.1"),
            "metadata": .array([.object(["preferred_network": .string(host), "preferred_cache": .string(host), "aliases": .array([.string(host)])])]),
        ]))
    }

    func entraError(_ status: Int, _ error: String, _ code: Int, _ message: String) -> Response {
        let trace = UUID().uuidString.lowercased(), correlation = UUID().uuidString.lowercased()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX"); formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        let timestamp = formatter.string(from: Date())
        return Reply.json(.init(code: status), JSONValue.object([
            "error": .string(error),
            "error_description": .string("AADSTS\(code): \(message) Trace ID: \(trace) Correlation ID: \(correlation) Timestamp: \(timestamp)"),
            "error_codes": .array([.number(Double(code))]),
            "timestamp": .string(timestamp), "trace_id": .string(trace), "correlation_id": .string(correlation),
            "error_uri": .string("\(authorityHost)/error?code=\(code)"),
        ]))
    }
}

struct TokenReply: Codable {
    var tokenType = "Bearer"
    var accessToken: String
    var expiresIn: Int
    var extExpiresIn: Int
    init(accessToken: String, expiresIn: Int) { self.accessToken = accessToken; self.expiresIn = expiresIn; self.extExpiresIn = expiresIn }
    enum CodingKeys: String, CodingKey { case tokenType = "token_type", accessToken = "access_token", expiresIn = "expires_in", extExpiresIn = "ext_expires_in" }
}

/// Compares secrets without an early exit on the first difference.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
    return diff == 0
}
