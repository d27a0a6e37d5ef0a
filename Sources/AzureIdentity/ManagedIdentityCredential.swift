import Foundation
import NIOHTTP1

/// Managed identity through the instance metadata service (IMDS), system- or user-assigned.
public struct ManagedIdentityCredential: TokenCredential {
    /// Client ID of a user-assigned identity; nil means system-assigned.
    public let clientID: String?
    public let endpoint: URL
    private let transport: HTTPTransport
    private let retry: RetryPolicy

    /// `endpoint` defaults to the Azure IMDS address.
    public init(clientID: String?, endpoint: URL = URL(string: "http://169.254.169.254")!, transport: HTTPTransport, retry: RetryPolicy = .default) throws(IdentityError) {
        if let id = clientID, !id.isEmpty { try IdentityValidation.clientID(id, field: "userAssignedIdentityID") }
        self.clientID = (clientID?.isEmpty ?? true) ? nil : clientID
        self.endpoint = endpoint
        self.transport = transport
        self.retry = retry
    }

    public var fingerprint: String { "imds:" + fingerprintDigest(endpoint.absoluteString, clientID ?? "system") }

    public func requestToken(scope: String) async throws(IdentityError) -> AccessToken {
        let resource = scope.hasSuffix("/.default") ? String(scope.dropLast("/.default".count)) : scope
        var components = URLComponents(url: endpoint.appendingPathComponent("metadata/identity/oauth2/token"), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "api-version", value: "2018-02-01"), URLQueryItem(name: "resource", value: resource)]
            + (clientID.map { [URLQueryItem(name: "client_id", value: $0)] } ?? [])
        let url = components.url!
        var headers = HTTPHeaders()
        headers.add(name: "Metadata", value: "true")
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPExchangeResponse
            do {
                response = try await transport.send(method: .GET, url: url, headers: headers)
            } catch {
                if attempt < retry.maxAttempts { try? await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: nil)); continue }
                throw .transport(error)
            }
            if response.status == 200 { return try EntraTokenClient.decodeSuccess(response.body, endpoint: endpoint.absoluteString) }
            // IMDS retries 404, 410, 429 and 5xx (the identity may still be attaching).
            if [404, 410, 429].contains(response.status) || response.status >= 500, attempt < retry.maxAttempts {
                let after = RetryPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"))
                try? await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: after))
                continue
            }
            throw Self.decodeError(response)
        }
    }

    /// The error an unsuccessful IMDS reply stands for.
    static func decodeError(_ response: HTTPExchangeResponse) -> IdentityError {
        let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        let message = (object["error_description"] as? String) ?? (object["error"] as? String) ?? "no description"
        return .managedIdentity(status: response.status, message: message)
    }
}
