import AzureIdentity
import Foundation
import Testing

@Suite struct AzureCloudTests {
    @Test func namesAreCaseInsensitiveAndDefaultToPublic() throws {
        #expect(try AzureCloud.named("") == .publicCloud)
        #expect(try AzureCloud.named("azurepubliccloud") == .publicCloud)
        #expect(try AzureCloud.named("AZUREUSGOVERNMENTCLOUD").keyVaultDNSSuffix == "vault.usgovcloudapi.net")
        #expect(try AzureCloud.named(" AzureChinaCloud ").keyVaultResource == "https://vault.azure.cn")
        #expect(AzureCloud.publicCloud.keyVaultScope == "https://vault.azure.net/.default")
        #expect(AzureCloud.publicCloud.vaultURL(name: "kv1").absoluteString == "https://kv1.vault.azure.net/")
    }

    @Test func unknownCloudNamesTheFix() {
        #expect(throws: CloudError.unknownCloud("Mars")) { try AzureCloud.named("Mars") }
        let message = CloudError.unknownCloud("Mars").description
        #expect(message.contains("AzurePublicCloud") && message.contains("Mars"))
        #expect(throws: CloudError.missingEnvironmentFile) { try AzureCloud.named("AzureStackCloud") }
    }

    @Test func parsesEnvironmentFileWithConnectOverride() throws {
        let json = """
        {"name":"AzureStackCloud","activeDirectoryEndpoint":"https://login.local/","keyVaultDNSSuffix":"vault.local:8443",
         "resourceIdentifiers":{"keyVault":"https://vault.local:8443/"},"akvsConnectAddress":"127.0.0.1:8443","graphEndpoint":"ignored"}
        """
        let cloud = try AzureCloud.parse(environmentJSON: Data(json.utf8), source: "x.json")
        #expect(cloud.keyVaultResource == "https://vault.local:8443")
        #expect(cloud.connectAddress == "127.0.0.1:8443")
        #expect(cloud.vaultURL(name: "kv").absoluteString == "https://kv.vault.local:8443/")
    }

    @Test func environmentFileErrorsNameTheField() {
        let noSuffix = #"{"activeDirectoryEndpoint":"https://login.local/","resourceIdentifiers":{"keyVault":"https://v"}}"#
        #expect {
            try AzureCloud.parse(environmentJSON: Data(noSuffix.utf8), source: "e.json")
        } throws: { error in
            (error as? CloudError)?.description.contains("keyVaultDNSSuffix") == true
        }
        let plainHTTP = #"{"activeDirectoryEndpoint":"http://login.local/","keyVaultDNSSuffix":"v","resourceIdentifiers":{"keyVault":"https://v"}}"#
        #expect {
            try AzureCloud.parse(environmentJSON: Data(plainHTTP.utf8), source: "e.json")
        } throws: { error in
            (error as? CloudError)?.description.contains("activeDirectoryEndpoint") == true
        }
        #expect {
            try AzureCloud.load(environmentFile: "/nonexistent/cloud.json")
        } throws: { error in
            (error as? CloudError)?.description.contains("/nonexistent/cloud.json") == true
        }
    }
}

@Suite struct ValidationTests {
    @Test func tenantAndClientIDs() throws {
        try IdentityValidation.tenantID("72f988bf-86f1-41af-91ab-2d7cd011db47")
        try IdentityValidation.tenantID("contoso.onmicrosoft.com")
        #expect(throws: IdentityError.self) { try IdentityValidation.tenantID("") }
        #expect(throws: IdentityError.self) { try IdentityValidation.tenantID("not a tenant/../") }
        try IdentityValidation.clientID("11111111-1111-4111-8111-111111111111")
        // A mistyped GUID is shown; anything else may be a secret in the wrong key, so only its length is.
        #expect {
            try IdentityValidation.clientID("11111111-1111-4111-8111-11111111111", field: "clientid")
        } throws: { error in
            (error as? IdentityError)?.description.contains("clientid '11111111-1111-4111-8111-11111111111' is invalid") == true
        }
        #expect {
            try IdentityValidation.clientID("Xy8Q~secret.Canary_value-123", field: "clientid")
        } throws: { error in
            let text = (error as? IdentityError)?.description ?? ""
            return !text.contains("Canary") && text.contains("clientid '<a value of 28 characters>' is invalid") && text.contains("swapped")
        }
        #expect {
            try IdentityValidation.tenantID("Secret~Tenant.Value", field: "tenantId")
        } throws: { error in !((error as? IdentityError)?.description.contains("Secret~") ?? true) }
    }

    @Test func retryAfterAndBackoff() {
        #expect(RetryPolicy.parseRetryAfter("3") == 3)
        #expect(RetryPolicy.parseRetryAfter(nil) == nil)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let http = RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:30 GMT", now: now)
        #expect(http == 10)
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1), maxRetryAfter: .seconds(5))
        #expect(policy.delay(afterAttempt: 1, retryAfter: 2) == .seconds(2))
        #expect(policy.delay(afterAttempt: 1, retryAfter: 600) == .seconds(5))
        for attempt in 1...8 { #expect(policy.delay(afterAttempt: attempt, retryAfter: nil) <= .seconds(1)) }
    }

    @Test func accessTokenNeverPrintsItsValue() {
        let token = AccessToken(token: "eyJ.super.secret", expiresOn: Date().addingTimeInterval(3600))
        #expect(!"\(token)".contains("secret"))
        #expect(!String(reflecting: token).contains("super"))
        #expect(token.refreshOn < token.expiresOn)
    }
}
