import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/_emulator/…`: counters, vault and token-endpoint faults, trusted issuers, identities, and the emulator's own OIDC issuer.
struct AdminHandler: Sendable {
    let state: EmulatorState
    let tokens: TokenService
    let counters: Counters

    func handle(request: Request, body: ByteBuffer) async -> Response? {
        let parts = request.uri.path.split(separator: "/").map(String.init)
        guard parts.first == "_emulator" else { return nil }
        let rest = Array(parts.dropFirst())
        let vault = rest.count == 3 && rest[0] == "vaults" && rest[2] == "faults" ? rest[1] : nil
        let route = vault == nil ? rest.joined(separator: "/") : "vaults/*/faults"
        switch (request.method, route) {
        case (.get, "counters"):
            return Reply.json(.ok, await counters.snapshot())
        case (.delete, "counters"):
            await counters.reset()
            return Reply.empty(.noContent)
        case (.get, "vaults/*/faults"):
            guard let vault, let faults = await state.faults(vault: vault) else { return adminError(404, "no vault named \(vault ?? "(none)")") }
            return Reply.json(.ok, faults)
        case (.put, "vaults/*/faults"):
            guard let vault, let faults = try? JSONDecoder().decode(FaultSettings.self, from: Data(buffer: body)) else {
                return adminError(400, "body must be JSON like {\"latencyMs\":20,\"jitterMs\":5,\"errorRate\":0,\"throttle\":{\"limit\":10,\"windowSeconds\":10},\"outage\":false}")
            }
            do { try await state.setFaults(faults, vault: vault) } catch { return adminError(400, "\(error)") }
            return Reply.json(.ok, faults)
        case (.get, "token/faults"):
            return Reply.json(.ok, await state.tokenFaults)
        case (.put, "token/faults"):
            guard let faults = try? JSONDecoder().decode(TokenFaultSettings.self, from: Data(buffer: body)) else {
                return adminError(400, "body must be JSON like {\"errorRate\":0.5,\"outage\":false}")
            }
            do { try await state.setTokenFaults(faults) } catch { return adminError(400, "\(error)") }
            return Reply.json(.ok, faults)
        case (.post, "issuers"):
            guard case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)),
                  let issuer = o["issuer"]?.stringValue, case .object(let jwks)? = o["jwks"], case .array(let keys)? = jwks["keys"] else {
                return adminError(400, "body must be {\"issuer\":\"https://…\",\"jwks\":{\"keys\":[…]}}")
            }
            await state.trustIssuer(issuer, keys: keys)
            return Reply.empty(.noContent)
        case (.post, "identities"):
            let identity: IdentitySeed
            do { identity = try JSONDecoder().decode(IdentitySeed.self, from: Data(buffer: body)) } catch {
                return adminError(400, "body must be an identity as in the seed's identities list: \(error)")
            }
            do { try await state.addIdentity(identity) } catch { return adminError(400, "\(error)") }
            return Reply.empty(.noContent)
        case (.post, "issuer/token"):
            struct TokenRequest: Decodable { var subject: String; var audience: String?; var expiresIn: Double? }
            guard let input = try? JSONDecoder().decode(TokenRequest.self, from: Data(buffer: body)) else {
                return adminError(400, "body must be {\"subject\":\"system:serviceaccount:NS:NAME\",\"audience\":\"api://AzureADTokenExchange\",\"expiresIn\":3600}")
            }
            guard let token = try? tokens.mintIssuerToken(subject: input.subject, audience: input.audience ?? EntraHandler.exchangeAudience,
                                                          lifetime: input.expiresIn ?? 3600) else { return adminError(500, "signing failed") }
            return Reply.json(.ok, ["token": token])
        case (.get, "issuer/jwks"):
            return Reply.json(.ok, tokens.issuerJWKS)
        case (.get, "issuer/.well-known/openid-configuration"):
            return Reply.json(.ok, ["issuer": tokens.oidcIssuer, "jwks_uri": tokens.oidcIssuer + "/jwks"])
        default:
            return adminError(404, "unknown admin endpoint \(request.method) \(request.uri.path); see docs/emulator.md")
        }
    }

    private func adminError(_ status: Int, _ message: String) -> Response {
        Reply.json(.init(code: status), ["error": message])
    }
}
