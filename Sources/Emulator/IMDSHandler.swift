import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The instance metadata service's managed-identity token endpoint (plain HTTP, as on a VM).
struct IMDSHandler: Sendable {
    let state: EmulatorState
    let tokens: TokenService
    let counters: Counters

    func handle(request: Request) async -> Response {
        let query = queryItems(request.uri.query)
        let client = query["client_id"]
        let response = await respond(request: request, query: query)
        await counters.imdsRequest(client: client, status: Int(response.status.code))
        return response
    }

    private func respond(request: Request, query: [String: String]) async -> Response {
        guard request.uri.path == "/metadata/identity/oauth2/token" else {
            return error(404, "not_found", "Unknown IMDS path \(request.uri.path); use /metadata/identity/oauth2/token")
        }
        guard request.headers[.metadata]?.lowercased() == "true" else {
            return error(400, "invalid_request", "Required metadata header not specified")
        }
        guard query["api-version"] != nil else { return error(400, "invalid_request", "Required query variable 'api-version' is missing") }
        guard var resource = query["resource"], !resource.isEmpty else { return error(400, "invalid_request", "Required query variable 'resource' is missing") }
        while resource.hasSuffix("/") { resource.removeLast() }
        guard resource == tokens.resource else {
            return error(400, "invalid_resource", "AADSTS500011: The resource principal named \(resource) was not found in the tenant. This emulator issues tokens for \(tokens.resource).")
        }
        guard let identity = await state.managedIdentity(clientID: query["client_id"], objectID: query["object_id"], resourceID: query["msi_res_id"] ?? query["mi_res_id"]) else {
            return error(400, "invalid_request", "Identity not found")
        }
        guard let token = try? tokens.mintAccessToken(for: identity, resource: resource) else { return error(500, "server_error", "token signing failed") }
        let now = Int(Date().timeIntervalSince1970)
        let lifetime = Int(tokens.tokenLifetime)
        return Reply.json(.ok, [
            "access_token": token, "client_id": identity.clientID, "expires_in": String(lifetime), "ext_expires_in": String(lifetime),
            "expires_on": String(now + lifetime), "not_before": String(now), "resource": resource, "token_type": "Bearer",
        ])
    }

    private func error(_ status: Int, _ code: String, _ description: String) -> Response {
        Reply.json(.init(code: status), ["error": code, "error_description": description])
    }
}
