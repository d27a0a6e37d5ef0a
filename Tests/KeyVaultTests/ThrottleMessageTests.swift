import AzureIdentity
import Foundation
import NIOHTTP1
import Testing
@testable import KeyVault

/// The wait a 429 names in its message, whatever the header holds.
@Suite struct ThrottleMessageTests {
    static let body = Data(#"{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received."}}"#.utf8)

    func message(retryAfter: String) -> String {
        let response = HTTPExchangeResponse(status: 429, headers: ["Retry-After": retryAfter], body: Self.body)
        guard case .service(_, _, _, let message, _, _) = KeyVaultClient.serviceError(response, vault: "kv", object: "db") else { return "" }
        return message
    }

    @Test func aPlainRetryAfterIsRoundedUpToSeconds() {
        let text = message(retryAfter: "2.1")
        #expect(text.hasSuffix("(Retry-After 3 s)"))
    }

    /// Retry-After 1e300 trapped the Double → Int conversion while the message was built (Fuzz/vault-responses).
    @Test(arguments: ["1e300", "inf", "9223372036854775808", "86400"])
    func aHostileRetryAfterIsNoTrap(header: String) {
        let text = message(retryAfter: header)
        #expect(text.hasSuffix("(Retry-After over a day)"))
    }
}
