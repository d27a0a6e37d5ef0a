import AzureIdentity
import EmulatorTestSupport
import Foundation
import Testing

@Suite struct CredentialTests {
    @Test func clientSecretGetsAToken() async throws {
        try await EmulatorFixture.with { f in
            let token = try await f.secretCredential().requestToken(scope: f.cloud.keyVaultScope)
            #expect(token.expiresOn > Date().addingTimeInterval(3000))
            #expect(token.token.split(separator: ".").count == 3)
        }
    }

    @Test func wrongSecretIsAnEntraError() async throws {
        try await EmulatorFixture.with { f in
            let error = await #expect(throws: IdentityError.self) {
                try await f.secretCredential(secret: "wrong").requestToken(scope: f.cloud.keyVaultScope)
            }
            guard case .entra(let status, let code, let description, let codes)? = error else { Issue.record("not an Entra error"); return }
            #expect(status == 401 && code == "invalid_client" && codes == [7000215])
            #expect(description.contains("AADSTS7000215"))
            #expect(!description.contains("wrong"))
        }
    }

    @Test func unknownClientAndTenant() async throws {
        try await EmulatorFixture.with { f in
            let unknown = try ClientSecretCredential(tenantID: EmulatorFixture.tenant, clientID: "99999999-9999-4999-8999-999999999999",
                                                     clientSecret: "x", cloud: f.cloud, transport: f.session.transport)
            let e1 = await #expect(throws: IdentityError.self) { try await unknown.requestToken(scope: f.cloud.keyVaultScope) }
            if case .entra(_, _, _, let codes)? = e1 { #expect(codes == [700016]) } else { Issue.record("expected 700016") }
            let otherTenant = try ClientSecretCredential(tenantID: "00000000-0000-4000-8000-00000000abcd", clientID: EmulatorFixture.readerID,
                                                         clientSecret: "x", cloud: f.cloud, transport: f.session.transport)
            let e2 = await #expect(throws: IdentityError.self) { try await otherTenant.requestToken(scope: f.cloud.keyVaultScope) }
            if case .entra(_, _, _, let codes)? = e2 { #expect(codes == [90002]) } else { Issue.record("expected 90002") }
        }
    }

    @Test func workloadIdentityWithFederatedTokenFileAndGivenToken() async throws {
        try await EmulatorFixture.with { f in
            let jwt = try await f.admin.issuerToken(subject: EmulatorFixture.workloadSubject)
            let file = f.directory.appendingPathComponent("sa-token")
            try jwt.write(to: file, atomically: true, encoding: .utf8)
            for source in [AssertionSource.file(file.path), .token(jwt)] {
                let credential = try ClientAssertionCredential(tenantID: EmulatorFixture.tenant, clientID: EmulatorFixture.readerID,
                                                               assertion: source, cloud: f.cloud, transport: f.session.transport)
                let secret = try await f.client(credential: credential).getSecret("plain")
                #expect(secret.value == "plain-value-1")
            }
        }
    }

    @Test func workloadIdentityWithUnfederatedSubjectFails() async throws {
        try await EmulatorFixture.with { f in
            let jwt = try await f.admin.issuerToken(subject: "system:serviceaccount:apps:other")
            let credential = try ClientAssertionCredential(tenantID: EmulatorFixture.tenant, clientID: EmulatorFixture.readerID,
                                                           assertion: .token(jwt), cloud: f.cloud, transport: f.session.transport)
            let error = await #expect(throws: IdentityError.self) { try await credential.requestToken(scope: f.cloud.keyVaultScope) }
            guard case .entra(400, _, let description, [70021])? = error else { Issue.record("expected AADSTS70021, got \(String(describing: error))"); return }
            #expect(description.contains("system:serviceaccount:apps:other"))
        }
    }

    @Test func malformedAssertionIsAnEntraErrorNamingIt() async throws {
        try await EmulatorFixture.with { f in
            let credential = try ClientAssertionCredential(tenantID: EmulatorFixture.tenant, clientID: EmulatorFixture.readerID,
                                                           assertion: .token("not-a-jwt"), cloud: f.cloud, transport: f.session.transport)
            let error = await #expect(throws: IdentityError.self) { try await credential.requestToken(scope: f.cloud.keyVaultScope) }
            guard case .entra(400, "invalid_client", let description, [50027])? = error else { Issue.record("expected AADSTS50027, got \(String(describing: error))"); return }
            #expect(description.contains("JWT token is invalid or malformed."))
            #expect(error?.description.hasPrefix("Entra ID rejected the token request (HTTP 400, invalid_client): AADSTS50027") == true)
        }
    }

    @Test func missingTokenFileSaysWhichFile() async throws {
        let credential = try ClientAssertionCredential(tenantID: EmulatorFixture.tenant, clientID: EmulatorFixture.readerID,
                                                       assertion: .file("/nonexistent/token"), cloud: .publicCloud,
                                                       transport: HTTPTransport(client: .shared))
        await #expect {
            try await credential.requestToken(scope: "https://vault.azure.net/.default")
        } throws: { error in
            (error as? IdentityError)?.description.contains("/nonexistent/token") == true
        }
    }

    @Test func managedIdentityUserAndSystemAssigned() async throws {
        try await EmulatorFixture.with { f in
            for id in [EmulatorFixture.managedID, nil] {
                let credential = try ManagedIdentityCredential(clientID: id, endpoint: f.emulator.imdsURL, transport: f.session.transport)
                #expect(try await f.client(credential: credential).getSecret("plain").value == "plain-value-1")
            }
            let unknown = try ManagedIdentityCredential(clientID: "55555555-5555-4555-8555-555555555555", endpoint: f.emulator.imdsURL, transport: f.session.transport)
            await #expect(throws: IdentityError.self) { try await unknown.requestToken(scope: f.cloud.keyVaultScope) }
        }
    }

    @Test func thousandConcurrentCallersCauseOneTokenRequest() async throws {
        try await EmulatorFixture.with { f in
            try await f.admin.resetCounters()
            let cache = TokenCache()
            let credential = try f.secretCredential()
            let scope = f.cloud.keyVaultScope
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<1000 { group.addTask { try await cache.token(for: credential, scope: scope).token } }
                var all = Set<String>()
                for try await t in group { all.insert(t) }
                return all
            }
            #expect(tokens.count == 1)
            #expect(try await f.admin.counters().token.total == 1)
            _ = try await cache.token(for: credential, scope: scope)
            #expect(try await f.admin.counters().token.total == 1)
        }
    }

    @Test func cacheKeepsWrongSecretApartFromRightOne() async throws {
        try await EmulatorFixture.with { f in
            let cache = TokenCache()
            _ = try await cache.token(for: f.secretCredential(), scope: f.cloud.keyVaultScope)
            await #expect(throws: IdentityError.self) {
                try await cache.token(for: f.secretCredential(secret: "wrong"), scope: f.cloud.keyVaultScope)
            }
        }
    }
}
