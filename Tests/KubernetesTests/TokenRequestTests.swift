import AzureIdentity
import Emulator
import EmulatorTestSupport
import Foundation
import KeyVault
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import StructuredJSON
import Testing

@Suite struct TokenRequestTests {
    @Test func tokenClaimsAndValidation() async throws {
        try await withCluster { server, client in
            _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "web", namespace: "default")))
            let token = try await client.requestToken(serviceAccount: "web", namespace: "default", audiences: ["api://AzureADTokenExchange"], expirationSeconds: 600)
            let parts = token.token.split(separator: ".")
            #expect(parts.count == 3)
            var payload = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while payload.count % 4 != 0 { payload += "=" }
            let claims = try JSONValue.parse(try #require(Data(base64Encoded: payload)))
            #expect(claims["iss"]?.stringValue == server.url.absoluteString)
            #expect(claims["sub"]?.stringValue == "system:serviceaccount:default:web")
            #expect(claims["aud"] == ["api://AzureADTokenExchange"])
            #expect(claims[path: ["kubernetes.io", "serviceaccount", "name"]]?.stringValue == "web")
            let exp = try #require(claims["exp"]?.numberValue), iat = try #require(claims["iat"]?.numberValue)
            #expect(exp - iat == 600)

            let short = await kubeError { _ = try await client.requestToken(serviceAccount: "web", namespace: "default", audiences: ["x"], expirationSeconds: 60) }
            #expect(short?.code == 422)
            #expect(short?.description.contains("spec.expirationSeconds") == true)
            let noSA = await kubeError { _ = try await client.requestToken(serviceAccount: "ghost", namespace: "default", audiences: ["x"]) }
            #expect(noSA?.isNotFound == true)
        }
    }

    @Test func refusedTokenRequestsAnswer503UntilCleared() async throws {
        try await withCluster { server, client in
            _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "web", namespace: "default")))
            await server.setFaults(.init(refuseTokenRequests: true))
            let refused = await kubeError { _ = try await client.requestToken(serviceAccount: "web", namespace: "default", audiences: ["x"]) }
            #expect(refused?.code == 503)
            #expect(try await client.get(ServiceAccount.self, name: "web", namespace: "default").metadata.name == "web")
            await server.setFaults(.init())
            #expect(try await !client.requestToken(serviceAccount: "web", namespace: "default", audiences: ["x"]).token.isEmpty)
        }
    }

    /// Workload identity offline: a TokenRequest token from the test server is exchanged at the emulator's
    /// Entra endpoint (which trusts the test server's issuer keys) and reads a Key Vault secret.
    @Test func workloadIdentityEndToEnd() async throws {
        try await withCluster { server, client in
            _ = try await client.create(Namespace(name: "apps"))
            _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "web", namespace: "apps")))
            let jwks = String(decoding: server.issuer.jwks.encoded(), as: UTF8.self)
            let clientID = "55555555-5555-4555-8555-555555555555"
            let seed = """
            tenantId: \(EmulatorFixture.tenant)
            vaults:
              - name: wi-kv
                secrets:
                  - {name: db, value: from-vault}
            identities:
              - name: workload
                clientId: \(clientID)
                federatedCredentials:
                  - {issuer: "\(server.issuer.issuer)", subject: "system:serviceaccount:apps:web"}
                access: {wi-kv: read}
            issuers:
              - issuer: "\(server.issuer.issuer)"
                jwks: \(jwks)
            """
            try await EmulatorFixture.with(seed: seed) { emulator in
                let token = try await client.requestToken(serviceAccount: "web", namespace: "apps", audiences: ["api://AzureADTokenExchange"], expirationSeconds: 600)
                let credential = try ClientAssertionCredential(tenantID: EmulatorFixture.tenant, clientID: clientID, assertion: .token(token.token),
                                                               cloud: emulator.cloud, transport: emulator.session.transport)
                let vault = try await emulator.client("wi-kv", credential: credential)
                #expect(try await vault.getSecret("db").value == "from-vault")

                // A token for another service account is not federated: Entra refuses it.
                _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "other", namespace: "apps")))
                let other = try await client.requestToken(serviceAccount: "other", namespace: "apps", audiences: ["api://AzureADTokenExchange"], expirationSeconds: 600)
                let refused = try ClientAssertionCredential(tenantID: EmulatorFixture.tenant, clientID: clientID, assertion: .token(other.token),
                                                            cloud: emulator.cloud, transport: emulator.session.transport)
                let denied = try await emulator.client("wi-kv", credential: refused)
                await #expect(throws: (any Error).self) { _ = try await denied.getSecret("db") }
            }
        }
    }
}
