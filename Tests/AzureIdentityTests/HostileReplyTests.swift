import Foundation
import NIOHTTP1
import Testing
@testable import AzureIdentity

/// Replies a broken or hostile Entra ID / IMDS endpoint can send (Fuzz/vault-responses found these).
@Suite struct HostileReplyTests {
    /// Retry-After 9223372036854775808 trapped converting seconds to Int64 milliseconds in `RetryPolicy.delay`,
    /// which the Entra and IMDS clients call with whatever the header says.
    @Test(arguments: ["9223372036854775808", "1e300", "inf", "1e19"])
    func hugeRetryAfterIsCappedNotATrap(header: String) {
        let policy = RetryPolicy.default
        let after = RetryPolicy.parseRetryAfter(header)
        #expect(policy.delay(afterAttempt: 1, retryAfter: after) == policy.maxRetryAfter)
    }

    /// HTTP-date Retry-After values are parsed by hand (DateFormatter leaked on a hostile value, Fuzz/vault-responses).
    @Test func httpDatesParseAndGarbageDoesNot() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:30 GMT", now: now) == 10)
        #expect(RetryPolicy.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
        #expect(RetryPolicy.parseHTTPDate("Thu, 29 Feb 2024 00:00:00 GMT") == Date(timeIntervalSince1970: 1_709_164_800))
        #expect(RetryPolicy.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == 0)
        for bad in ["ss_\u{104104}oken\":", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT",
                    "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov +994 08:49:37 GMT", "Sun,  06 Nov 1994 08:49:37 GMT"] {
            #expect(RetryPolicy.parseRetryAfter(bad) == nil, "\(bad)")
        }
    }

    /// error_codes of 1e300 or "nan" trapped the Double → Int conversion while decoding an Entra error.
    @Test func errorCodesThatAreNoIntegersAreDropped() {
        let body = #"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[1e300,"nan",7000215,1.5]}"#
        let error = EntraTokenClient.decodeError(HTTPExchangeResponse(status: 401, headers: [:], body: Data(body.utf8)))
        #expect(error == .entra(status: 401, error: "invalid_client", description: "AADSTS7000215: Invalid client secret provided.", codes: [7000215]))
        #expect(error.description == "Entra ID rejected the token request (HTTP 401, invalid_client): AADSTS7000215: Invalid client secret provided.")
    }

    @Test func aTokenReplyWithoutATokenNamesTheField() {
        #expect(throws: IdentityError.malformedResponse(endpoint: "https://login.test/t", reason: "access_token is missing")) {
            try EntraTokenClient.decodeSuccess(Data(#"{"expires_in":3599}"#.utf8), endpoint: "https://login.test/t")
        }
        #expect(IdentityError.malformedResponse(endpoint: "https://login.test/t", reason: "access_token is missing").description
            == "token endpoint https://login.test/t sent an unusable reply: access_token is missing")
    }
}
