// libFuzzer target: what a hostile or broken Key Vault, Entra ID or IMDS endpoint can send back.
// Byte 0 picks the reply kind, byte 1 the HTTP status; the first line is the Retry-After header, the rest the body.
// The clients must turn every reply into a value or a typed error, and every Retry-After into a bounded delay.
import Foundation
import NIOHTTP1
import ObjectFormats
@testable import AzureIdentity
@testable import KeyVault

let statuses = [200, 400, 401, 403, 404, 408, 409, 429, 500, 503, 504, 302]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 2 else { return 0 }
    let kind = bytes[0] % 10
    let status = statuses[Int(bytes[1]) % statuses.count]
    let rest = bytes[2...]
    let newline = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
    let retryAfter = String(decoding: rest[..<newline], as: UTF8.self)
    let body = Data(rest[(newline < rest.endIndex ? newline + 1 : newline)...])
    var headers = HTTPHeaders()
    if !retryAfter.isEmpty { headers.add(name: "Retry-After", value: retryAfter) }
    let response = HTTPExchangeResponse(status: status, headers: headers, body: body)

    // Both clients read Retry-After; the delay they sleep must stay within the policy's bound.
    let policy = RetryPolicy.default
    let after = RetryPolicy.parseRetryAfter(headers.first(name: "Retry-After"))
    if let after { precondition(after >= 0, "negative Retry-After") }
    let delay = policy.delay(afterAttempt: 1 + Int(bytes[1] % 8), retryAfter: after)
    precondition(delay >= .zero && delay <= max(policy.maxDelay, policy.maxRetryAfter), "retry delay \(delay) out of bounds")

    switch kind {
    case 0:
        if let bundle = try? KeyVaultClient.decodeReply(body, as: SecretBundle.self, vault: "kv", object: "secret s") {
            _ = bundle.id?.keyVaultVersion
            if let value = bundle.value { _ = try? ObjectEncoding.base64.decode(value); _ = try? ObjectEncoding.hex.decode(value) }
        }
    case 1:
        if let bundle = try? KeyVaultClient.decodeReply(body, as: KeyBundle.self, vault: "kv", object: "key k") {
            let jwk = bundle.key
            do { _ = try PublicKeyPEM.fromJWK(kty: jwk.kty, n: jwk.n, e: jwk.e, crv: jwk.crv, x: jwk.x, y: jwk.y) } catch {
                precondition(!"\(error)".isEmpty)
            }
        }
    case 2:
        if let bundle = try? KeyVaultClient.decodeReply(body, as: CertificateBundle.self, vault: "kv", object: "certificate c"),
           let cer = bundle.cer, let der = Data(base64Encoded: cer) {
            _ = PEM.encode(label: "CERTIFICATE", der: Array(der))
        }
    case 3:
        if let page = try? KeyVaultClient.decodeReply(body, as: ItemPage.self, vault: "kv", object: "secrets") {
            _ = page.value.compactMap { ($0.id ?? $0.kid)?.keyVaultVersion }
            _ = page.nextLink.flatMap(URL.init(string:)).map(KeyVaultClient.ensureAPIVersion)
        }
    case 4:
        let error = KeyVaultClient.serviceError(response, vault: "kv", object: "secret s")
        precondition(!error.description.isEmpty && error.status == status, "service error lost its status")
        _ = error.isTransient
    case 5:
        do { let token = try EntraTokenClient.decodeSuccess(body, endpoint: "https://login.example/t"); _ = token.refreshOn <= token.expiresOn } catch {
            precondition(!error.description.isEmpty)
        }
    case 6:
        let error = EntraTokenClient.decodeError(response)
        precondition(!error.description.isEmpty)
        _ = error.isTransient
    case 7:
        precondition(!ManagedIdentityCredential.decodeError(response).description.isEmpty)
    case 8:
        do { _ = try AzureCloud.parse(environmentJSON: body, source: "env.json") } catch { precondition(!error.description.isEmpty) }
    default:
        // The form decoder the emulator and tests share.
        _ = FormEncoding.decode(String(decoding: body, as: UTF8.self))
    }
    return 0
}
