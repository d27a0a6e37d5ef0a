import AzureIdentity
import Foundation
import NIOHTTP1

/// Calls the emulator's admin API (`/_emulator/…`) for tests, benchmarks and the demo.
public struct EmulatorAdminClient: Sendable {
    public let baseURL: URL
    let transport: HTTPTransport

    public init(emulator: RunningEmulator, transport: HTTPTransport) {
        self.baseURL = URL(string: emulator.credentials.adminEndpoint)!
        self.transport = transport
    }

    /// Counts of requests per vault, object and status, and of token requests.
    public struct CounterSnapshot: Codable, Sendable {
        public struct Vault: Codable, Sendable {
            public var total: Int
            public var byStatus: [String: Int]
            public var byObject: [String: Int]
        }
        public struct Endpoint: Codable, Sendable {
            public var total: Int
            public var byStatus: [String: Int]
            public var byClient: [String: Int]
        }
        public var total: Int
        public var vaults: [String: Vault]
        public var token: Endpoint
        public var imds: Endpoint
    }

    public func counters() async throws -> CounterSnapshot {
        try JSONDecoder().decode(CounterSnapshot.self, from: try await call(.GET, "counters").body)
    }

    public func resetCounters() async throws { _ = try await call(.DELETE, "counters") }

    public func setFaults(_ faults: FaultSettings, vault: String) async throws {
        _ = try await call(.PUT, "vaults/\(vault)/faults", body: try JSONEncoder().encode(faults))
    }

    /// Adds an identity, or replaces the one with the same client ID (e.g. to revoke its vault access).
    public func addIdentity(_ identity: IdentitySeed) async throws {
        _ = try await call(.POST, "identities", body: try JSONEncoder().encode(identity))
    }

    /// Failures of the Entra token endpoint (outage, share of 503s).
    public func setTokenFaults(_ faults: TokenFaultSettings) async throws {
        _ = try await call(.PUT, "token/faults", body: try JSONEncoder().encode(faults))
    }

    /// A token from the emulator's OIDC issuer, like a projected service-account token.
    public func issuerToken(subject: String, audience: String = "api://AzureADTokenExchange", expiresIn: Int = 3600) async throws -> String {
        struct Reply: Decodable { var token: String }
        let body = try JSONSerialization.data(withJSONObject: ["subject": subject, "audience": audience, "expiresIn": expiresIn])
        return try JSONDecoder().decode(Reply.self, from: try await call(.POST, "issuer/token", body: body).body).token
    }

    func call(_ method: HTTPMethod, _ path: String, body: Data? = nil) async throws -> HTTPExchangeResponse {
        var headers = HTTPHeaders()
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        let response = try await transport.send(method: method, url: baseURL.appendingPathComponent(path), headers: headers, body: body)
        guard (200..<300).contains(response.status) else {
            throw EmulatorError.invalid(field: path, reason: "admin API answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }
        return response
    }
}
