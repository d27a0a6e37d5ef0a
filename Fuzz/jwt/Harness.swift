// libFuzzer target: JWT and JWKS parsing. The input is a compact JWT, a newline, then a JWKS document.
// The emulator's JWT reader must never trap, and nothing the fuzzer spells may pass as signed by a key
// it cannot know (a fresh P-256 key per process).
import Crypto
import Foundation
@testable import AzureIdentity
@testable import Emulator

let unknownKey = P256.Signing.PrivateKey()
let service = TokenService(signingKey: unknownKey, issuerKey: P256.Signing.PrivateKey(), tenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
                           resource: "https://vault.azure.net", oidcIssuer: "https://oidc.fuzz.localhost")
let unknownJWK = publicJWK(of: unknownKey, keyID: TokenService.signingKeyID)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    let compact = String(parts[0])
    let jwks = parts.count > 1 ? (try? JSONValue.parse(Data(parts[1].utf8))) : nil

    if let jwt = JWT(compact: compact) {
        _ = (jwt.audiences, jwt.string("iss"), jwt.string("sub"), jwt.number("exp"), jwt.number("nbf"))
        let keys = jwks?["keys"]?.arrayValue ?? jwks.map { [$0] } ?? []
        for key in keys { _ = jwt.verify(with: key) }
        precondition(!jwt.verify(with: unknownJWK), "a fuzzed JWT verified against a key it cannot know")
    }
    if case .success = service.validateAccessToken(compact) {
        preconditionFailure("the emulator accepted a fuzzed access token")
    }
    _ = JWTClaimsPeek.issuerSubjectAudience(compact)
    for segment in compact.split(separator: ".", omittingEmptySubsequences: false) {
        if let decoded = Base64URL.decode(String(segment)) {
            precondition(Base64URL.decode(Base64URL.encode(decoded)) == decoded, "base64url round trip changed bytes")
        }
    }
    return 0
}
