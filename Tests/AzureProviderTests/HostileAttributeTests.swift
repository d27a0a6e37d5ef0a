import Testing
@testable import AzureProvider

/// Mount attributes no driver should send (Fuzz/spc-parameters drives the same parser with generated ones).
@Suite struct HostileAttributeTests {
    /// 1e300 is finite and passed the old check, then trapped the conversion to Int64 milliseconds.
    @Test(arguments: ["1e300", "-1", "inf", "nan", "soon", "31536001"])
    func maxObjectAgeOutOfRangeIsAParameterError(raw: String) {
        #expect(throws: ProviderError.parameter(name: AzureProvider.maxObjectAgeAttribute, reason: "'\(raw)' is not a number of seconds from 0 to 31536000")) {
            _ = try AzureProvider.maxObjectAge([AzureProvider.maxObjectAgeAttribute: raw])
        }
        #expect(ProviderError.parameter(name: AzureProvider.maxObjectAgeAttribute, reason: "'\(raw)' is not a number of seconds from 0 to 31536000").description
            == "SecretProviderClass parameter akvs.io/max-object-age-seconds: '\(raw)' is not a number of seconds from 0 to 31536000")
    }

    @Test func maxObjectAgeInRange() throws {
        #expect(try AzureProvider.maxObjectAge([AzureProvider.maxObjectAgeAttribute: "1.5"]) == .milliseconds(1500))
        #expect(try AzureProvider.maxObjectAge([:]) == nil)
    }
}
